using Build.Deployment.Release;
using Build.Deployment.Ssh;
using Build.Resilience;
using Polly;
using Polly.Timeout;

namespace Build.Deployment;

/// <summary>
/// The per-server resilience pipeline: retries (exponential, with jitter) for transient errors only,
/// and a timeout per attempt. Authentication, host keys, permissions and bad settings are never retried.
/// </summary>
public static class Retries
{
    public static ResiliencePipeline Create(int attempts, TimeSpan firstDelay, TimeSpan attemptTimeout, TimeProvider time, Action<string>? onRetry = null) =>
        RetryPipeline.Create(new RetryPolicy
        {
            Attempts = attempts,
            Delay = firstDelay,
            MaxDelay = TimeSpan.FromMinutes(1),
            AttemptTimeout = attemptTimeout,
            ShouldRetry = IsTransient,
            OnRetry = (attempt, delay, error) =>
                onRetry?.Invoke($"attempt {attempt} failed ({Describe(error!)}); retrying in {delay.TotalSeconds:0.#}s"),
        }, time);

    public static bool IsTransient(Exception e) => e switch
    {
        TimeoutRejectedException => true,
        ReleaseException release => release.Transient,
        OperationCanceledException => false,
        _ => SshErrors.IsTransient(e),
    };

    public static string Describe(Exception e) => e switch
    {
        TimeoutRejectedException => "the attempt timed out",
        _ => ServerText.Clean(e.Message.Split('\n')[0], 1000),
    };
}
