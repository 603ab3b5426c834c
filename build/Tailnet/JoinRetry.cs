using Polly;
using Polly.Retry;

namespace Build.Tailnet;

/// <summary>
/// Retries for joining: exponential backoff with jitter, bounded attempts, transient failures only
/// (a permanent one such as a refused tag fails at once).
/// </summary>
public static class JoinRetry
{
    /// <param name="attempts">Total attempts (the first one included); 1 means no retry.</param>
    /// <param name="delay">Median delay before the first retry; later ones grow exponentially.</param>
    /// <param name="onRetry">Called with the failed attempt's number (from 1), the wait before the next one, and the error.</param>
    /// <param name="randomizer">Jitter source (tests fix it); null is Polly's thread-safe default.</param>
    public static ResiliencePipeline Create(
        int attempts,
        TimeSpan delay,
        TimeProvider timeProvider,
        Action<int, TimeSpan, Exception?>? onRetry = null,
        Func<double>? randomizer = null)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = timeProvider };
        if (attempts <= 1) return builder.Build();
        var options = new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<TransientTailnetException>(),
            MaxRetryAttempts = attempts - 1,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = delay,
            OnRetry = args =>
            {
                onRetry?.Invoke(args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception);
                return ValueTask.CompletedTask;
            },
        };
        // Keeps a long run of failures from waiting minutes between attempts.
        if (delay > TimeSpan.Zero) options.MaxDelay = delay * 8;
        if (randomizer is not null) options.Randomizer = randomizer;
        return builder.AddRetry(options).Build();
    }
}
