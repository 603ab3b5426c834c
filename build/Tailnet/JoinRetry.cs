using Build.Resilience;
using Polly;

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
        Func<double>? randomizer = null) =>
        RetryPipeline.Create(new RetryPolicy
        {
            Attempts = attempts,
            Delay = delay,
            // Keeps a long run of failures from waiting minutes between attempts.
            MaxDelay = delay > TimeSpan.Zero ? delay * 8 : null,
            ShouldRetry = e => e is TransientTailnetException,
            OnRetry = onRetry,
            Randomizer = randomizer,
        }, timeProvider);
}
