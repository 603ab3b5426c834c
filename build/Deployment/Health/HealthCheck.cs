using System.Globalization;
using System.Net.Sockets;

namespace Build.Deployment.Health;

/// <summary>What one server's check found: healthy or not, why, and how long it took.</summary>
public sealed record HealthResult(bool Healthy, string Detail, int Requests, TimeSpan Elapsed)
{
    public override string ToString() => Detail;
}

/// <summary>
/// Polls a server after its switch: the marker URL until its body is the expected release id, then each extra path
/// until it answers 200, all within one bound (<see cref="HealthSettings.Timeout"/>). Every request has its own
/// timeout and a query string no cache has seen; between requests a short backoff. Whatever goes wrong (refused,
/// timed out, a wrong body) is a failed check with the last thing seen, never an exception and never a hang.
/// Its awaits do not come back to the caller's context: the polling then advances wherever its timers fire, which
/// also makes it step exactly with a fake clock.
/// </summary>
public sealed class HealthCheck(IHealthProbe probe, HealthSettings settings, TimeProvider time)
{
    public static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(2);

    private long _nonce = Random.Shared.NextInt64(1L << 40);

    public async Task<HealthResult> CheckAsync(Uri url, string releaseId, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var requests = 0;
        var last = "no answer";
        // What the server answered last says more than a timeout that came after it.
        string? lastAnswer = null;
        var delay = FirstDelay;
        var targets = new List<(Uri Url, string? Body)> { (url, releaseId) };
        targets.AddRange(settings.Paths.Select(p => (new Uri(url, p), (string?)null)));
        foreach (var (target, expected) in targets)
        {
            while (true)
            {
                var remaining = settings.Timeout - time.GetElapsedTime(started);
                if (remaining <= TimeSpan.Zero)
                    return new HealthResult(false, $"{Show(target)}: {Seen(last, lastAnswer)} (gave up after {Seconds(settings.Timeout)}, {requests} requests)", requests, time.GetElapsedTime(started));
                requests++;
                var (ok, seen, answered) = await AskAsync(target, expected, Min(settings.RequestTimeout, remaining), cancellationToken).ConfigureAwait(false);
                last = seen;
                if (answered) lastAnswer = seen;
                if (ok) break;
                remaining = settings.Timeout - time.GetElapsedTime(started);
                if (remaining > TimeSpan.Zero)
                    await Task.Delay(Min(delay, remaining), time, cancellationToken).ConfigureAwait(false);
                delay = Min(delay * 2, MaxDelay);
            }
        }
        var paths = settings.Paths.Count > 0 ? $", {string.Join(", ", settings.Paths)} answer 200" : "";
        return new HealthResult(true, $"{Show(url)} serves {releaseId}{paths} ({requests} requests, {Seconds(time.GetElapsedTime(started))})", requests, time.GetElapsedTime(started));
    }

    /// <summary>One request for what the marker URL serves now (the Releases listing): the body, or what went wrong.</summary>
    public async Task<string> ReadAsync(Uri url, CancellationToken cancellationToken)
    {
        try
        {
            var response = await GetAsync(url, settings.RequestTimeout, cancellationToken).ConfigureAwait(false);
            var body = ServerText.Clean(response.Body.Trim(), 80).Replace('\n', ' ');
            return response.Status == 200 ? body : $"HTTP {response.Status}";
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Describe(e, settings.RequestTimeout);
        }
    }

    private static string Seen(string last, string? lastAnswer) =>
        lastAnswer is null || lastAnswer == last ? last : $"{lastAnswer}, then {last}";

    private async Task<(bool Ok, string Seen, bool Answered)> AskAsync(Uri url, string? expected, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            var response = await GetAsync(url, timeout, cancellationToken).ConfigureAwait(false);
            if (response.Status != 200)
            {
                var location = response.Location is { } l ? $" to {ServerText.Clean(l, 200)}" : "";
                return (false, $"HTTP {response.Status}{location}", true);
            }
            if (expected is null) return (true, "HTTP 200", true);
            var body = response.Body.Trim();
            return body == expected
                ? (true, $"serves {expected}", true)
                : (false, body.Length == 0 ? "an empty body" : $"serves \"{ServerText.Clean(body, 80).Replace('\n', ' ')}\", not {expected}", true);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return (false, Describe(e, timeout), false);
        }
    }

    private async Task<ProbeResponse> GetAsync(Uri url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var bound = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, bound.Token);
        try
        {
            // Raced against the bound too: a probe that ignores its token still cannot hold the check.
            return await probe.GetAsync(Fresh(url), linked.Token).WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (bound.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer within {Seconds(timeout)}");
        }
    }

    /// <summary>The URL with a query no cache has seen.</summary>
    private Uri Fresh(Uri url)
    {
        var nonce = Interlocked.Increment(ref _nonce).ToString("x", CultureInfo.InvariantCulture);
        var builder = new UriBuilder(url);
        var query = builder.Query.TrimStart('?');
        builder.Query = (query.Length > 0 ? query + "&" : "") + "deploy-check=" + nonce;
        return builder.Uri;
    }

    private static string Describe(Exception e, TimeSpan timeout) => e switch
    {
        TimeoutException t => t.Message,
        OperationCanceledException => $"no answer within {Seconds(timeout)}",
        HttpRequestException { InnerException: SocketException s } => ServerText.Clean(s.Message, 200),
        HttpRequestException h => ServerText.Clean(h.InnerException?.Message ?? h.Message, 300),
        _ => ServerText.Clean(e.Message, 300),
    };

    private static string Show(Uri url) => url.GetLeftPart(UriPartial.Path);

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s";

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
