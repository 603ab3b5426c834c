using Build.Deployment.Release;
using Build.Deployment.Ssh;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Build.Deployment;

/// <summary>
/// The per-server resilience pipeline: retries (exponential, with jitter) for transient errors only,
/// and a timeout per attempt. Authentication, host keys, permissions and bad settings are never retried.
/// </summary>
public static class Retries
{
    public static ResiliencePipeline Create(int attempts, TimeSpan firstDelay, TimeSpan attemptTimeout, TimeProvider time, Action<string>? onRetry = null)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (attempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = attempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = firstDelay,
                MaxDelay = TimeSpan.FromMinutes(1),
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && IsTransient(e)),
                OnRetry = args =>
                {
                    onRetry?.Invoke($"attempt {args.AttemptNumber + 1} failed ({Describe(args.Outcome.Exception!)}); retrying in {args.RetryDelay.TotalSeconds:0.#}s");
                    return ValueTask.CompletedTask;
                },
            });
        }
        return builder.AddTimeout(attemptTimeout).Build();
    }

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
        _ => e.Message.Split('\n')[0],
    };
}
