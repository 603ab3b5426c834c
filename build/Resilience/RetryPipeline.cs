using Polly;
using Polly.Retry;

namespace Build.Resilience;

/// <summary>
/// How one operation is retried: bounded attempts with exponential backoff and jitter, for the
/// errors <see cref="ShouldRetry"/> accepts only, and optionally a bound on each attempt.
/// </summary>
public sealed record RetryPolicy
{
    /// <summary>Total attempts, the first one included; 1 means no retry.</summary>
    public required int Attempts { get; init; }

    /// <summary>Median delay before the first retry; later ones double (see <see cref="RetryPipeline.Backoff"/>).</summary>
    public required TimeSpan Delay { get; init; }

    public TimeSpan? MaxDelay { get; init; }

    /// <summary>Each attempt is cut (a <see cref="Polly.Timeout.TimeoutRejectedException"/>) after this long.</summary>
    public TimeSpan? AttemptTimeout { get; init; }

    public required Func<Exception, bool> ShouldRetry { get; init; }

    /// <summary>Called with the failed attempt's number (from 1), the wait before the next one, and the error.</summary>
    public Action<int, TimeSpan, Exception?>? OnRetry { get; init; }

    /// <summary>Jitter source in [0, 1) (tests fix it); null is <see cref="Random.Shared"/>.</summary>
    public Func<double>? Randomizer { get; init; }
}

/// <summary>The one place the pipeline builds Polly retry pipelines (joining, deploying, the API cleanup).</summary>
public static class RetryPipeline
{
    /// <summary>
    /// The wait before retry <paramref name="retry"/> (from 1): <c>delay · 2^(retry−1)</c> times a factor in [0.8, 1.2]
    /// (from <paramref name="random"/> in [0, 1)), at most <paramref name="max"/>.
    /// </summary>
    public static TimeSpan Backoff(int retry, TimeSpan delay, TimeSpan? max, double random)
    {
        var factor = 0.8 + 0.4 * Math.Clamp(random, 0, 1);
        var ticks = delay.Ticks * Math.Pow(2, Math.Min(retry - 1, 40)) * factor;
        var cap = max ?? TimeSpan.MaxValue;
        return ticks >= cap.Ticks ? cap : TimeSpan.FromTicks((long)ticks);
    }

    public static ResiliencePipeline Create(RetryPolicy policy, TimeProvider time)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (policy.Attempts > 1)
        {
            var options = new RetryStrategyOptions
            {
                MaxRetryAttempts = policy.Attempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = policy.Delay,
                MaxDelay = policy.MaxDelay,
                // Polly's own jitter (decorrelated) can wait less on the second retry than on the first; this one visibly grows.
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(
                    Backoff(args.AttemptNumber + 1, policy.Delay, policy.MaxDelay, (policy.Randomizer ?? Random.Shared.NextDouble)())),
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && policy.ShouldRetry(e)),
                OnRetry = args =>
                {
                    policy.OnRetry?.Invoke(args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception);
                    return ValueTask.CompletedTask;
                },
            };
            builder.AddRetry(options);
        }
        // Added after the retry, so it bounds each attempt rather than all of them.
        if (policy.AttemptTimeout is { } timeout) builder.AddTimeout(timeout);
        return builder.Build();
    }
}
