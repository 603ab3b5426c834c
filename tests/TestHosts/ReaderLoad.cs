using System.Net;
using System.Text.RegularExpressions;

namespace TestHosts;

/// <summary>What the readers saw: every response, the ones that were not 200, and the page views with a broken part.</summary>
public sealed record LoadCounts(long Requests, long Failed, long Views, long BrokenViews)
{
    public static readonly LoadCounts None = new(0, 0, 0, 0);

    public override string ToString() => $"{Requests} requests, {Failed} failed, {Views} views, {BrokenViews} broken";

    /// <summary>The counts of two loads together (several runs of one benchmark row).</summary>
    public static LoadCounts operator +(LoadCounts a, LoadCounts b) =>
        new(a.Requests + b.Requests, a.Failed + b.Failed, a.Views + b.Views, a.BrokenViews + b.BrokenViews);
}

/// <summary>
/// Readers of a blog during deploys: <see cref="Connections"/> readers at once, each fetching the home page and at
/// once what it links (the newest post, the stylesheet, an image). A view is broken when any of the four answers
/// anything but 200 (or nothing). The load runs while the work given to <see cref="RunAsync"/> runs, and stops by
/// itself when that ends or after a bound.
/// </summary>
public sealed partial class ReaderLoad(Uri baseUrl, int connections = 4)
{
    public int Connections => connections;

    public async Task<LoadCounts> RunAsync(Func<CancellationToken, Task> during, TimeSpan bound, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections, UseProxy = false, AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(bound);
        long requests = 0, failed = 0, views = 0, broken = 0;

        async Task<(bool Ok, string Body)> GetAsync(string path)
        {
            Interlocked.Increment(ref requests);
            try
            {
                using var response = await client.GetAsync(new Uri(baseUrl, path), stop.Token);
                var body = await response.Content.ReadAsStringAsync(stop.Token);
                if (response.StatusCode == HttpStatusCode.OK) return (true, body);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                // Cut by the end of the load, not a failure of the server.
                Interlocked.Decrement(ref requests);
                throw new OperationCanceledException(stop.Token);
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
                // A request that timed out.
            }
            Interlocked.Increment(ref failed);
            return (false, "");
        }

        async Task ReadAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var home = await GetAsync("/");
                    var links = home.Ok ? Links(home.Body) : [];
                    var parts = await Task.WhenAll(links.Select(GetAsync));
                    Interlocked.Increment(ref views);
                    if (!home.Ok || links.Count < 3 || parts.Any(p => !p.Ok)) Interlocked.Increment(ref broken);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
            }
        }

        var readers = Enumerable.Range(0, connections).Select(_ => Task.Run(ReadAsync, CancellationToken.None)).ToList();
        try
        {
            await during(stop.Token);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(readers);
        }
        return new LoadCounts(requests, failed, views, broken);
    }

    /// <summary>The newest post (the first one listed), the stylesheet and the newest post's image.</summary>
    public static IReadOnlyList<string> Links(string home)
    {
        var links = new List<string>();
        if (PostLink().Match(home) is { Success: true } post) links.Add(post.Groups[1].Value);
        if (Stylesheet().Match(home) is { Success: true } css) links.Add(css.Groups[1].Value);
        if (Image().Match(home) is { Success: true } image) links.Add(image.Groups[1].Value);
        return links;
    }

    [GeneratedRegex("<a class=\"post\" href=\"(/[^\"]+)\"")]
    private static partial Regex PostLink();

    [GeneratedRegex("<link rel=\"stylesheet\" href=\"(/[^\"]+)\"")]
    private static partial Regex Stylesheet();

    [GeneratedRegex("<img src=\"(/[^\"]+)\"")]
    private static partial Regex Image();
}
