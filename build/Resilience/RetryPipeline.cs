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

    /// <summary>Median delay before the first retry; later ones grow exponentially.</summary>
    public required TimeSpan Delay { get; init; }

    public TimeSpan? MaxDelay { get; init; }

    /// <summary>Each attempt is cut (a <see cref="Polly.Timeout.TimeoutRejectedException"/>) after this long.</summary>
    public TimeSpan? AttemptTimeout { get; init; }

    public required Func<Exception, bool> ShouldRetry { get; init; }

    /// <summary>Called with the failed attempt's number (from 1), the wait before the next one, and the error.</summary>
    public Action<int, TimeSpan, Exception?>? OnRetry { get; init; }

    /// <summary>Jitter source (tests fix it); null is Polly's default.</summary>
    public Func<double>? Randomizer { get; init; }
}

/// <summary>The one place the pipeline builds Polly retry pipelines (joining, deploying, the API cleanup).</summary>
public static class RetryPipeline
{
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
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && policy.ShouldRetry(e)),
                OnRetry = args =>
                {
                    policy.OnRetry?.Invoke(args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception);
                    return ValueTask.CompletedTask;
                },
            };
            if (policy.Randomizer is not null) options.Randomizer = policy.Randomizer;
            builder.AddRetry(options);
        }
        // Added after the retry, so it bounds each attempt rather than all of them.
        if (policy.AttemptTimeout is { } timeout) builder.AddTimeout(timeout);
        return builder.Build();
    }
}
