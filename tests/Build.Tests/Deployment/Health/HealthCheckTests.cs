using System.Net.Sockets;
using Build.Deployment.Health;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests.Deployment.Health;

/// <summary>The checker's timing on a fake clock: backoff, the overall bound, each request's own bound, no hang.</summary>
public sealed class HealthCheckTests
{
    private const string Release = "20261130T090000Z-0123abcd";
    private static readonly Uri Url = new("http://192.0.2.1:8080/.well-known/release");

    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-30T09:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Answers each request with the next of <c>answers</c> (the last one repeats), recording the URL and the time.</summary>
    private sealed class FakeProbe(FakeTimeProvider time, params Func<Uri, CancellationToken, Task<ProbeResponse>>[] answers) : IHealthProbe
    {
        public List<(Uri Url, DateTimeOffset At)> Requests { get; } = [];

        public Task<ProbeResponse> GetAsync(Uri url, CancellationToken cancellationToken)
        {
            Requests.Add((url, time.GetUtcNow()));
            return answers[Math.Min(Requests.Count - 1, answers.Length - 1)](url, cancellationToken);
        }
    }

    private static Func<Uri, CancellationToken, Task<ProbeResponse>> Answer(int status, string body = "") => (_, _) => Task.FromResult(new ProbeResponse(status, body));

    private static Func<Uri, CancellationToken, Task<ProbeResponse>> Refused() =>
        (_, _) => Task.FromException<ProbeResponse>(new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused)));

    /// <summary>A server that accepts and never answers, and ignores the token too.</summary>
    private static Func<Uri, CancellationToken, Task<ProbeResponse>> Hang() => (_, _) => new TaskCompletionSource<ProbeResponse>().Task;

    private HealthCheck Check(FakeProbe probe, HealthSettings? settings = null) => new(probe, settings ?? new HealthSettings(), _time);

    /// <summary>
    /// Starts the check and moves the fake clock until it ends; bounded, so a check that never ends fails the test. On the
    /// default scheduler the check's continuations run inside Advance (where its timers fire), so each step is exact.
    /// </summary>
    private Task<T> Drive<T>(Func<Task<T>> start) => Task.Run(async () =>
    {
        var task = start();
        for (var i = 0; i < 20_000 && !task.IsCompleted; i++)
            _time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.True(task.IsCompleted, $"the check did not end ({task.Status}, {_time.GetUtcNow():O})");
        return await task;
    });

    [Fact]
    public async Task Polls_with_a_growing_backoff_until_the_body_is_the_release()
    {
        var probe = new FakeProbe(_time, Answer(404), Answer(404), Answer(200, "20261129T080000Z-ffffffff\n"), Answer(200, Release + "\n"));

        var result = await Drive(() => Check(probe).CheckAsync(Url, Release, CancellationToken.None));

        Assert.True(result.Healthy, result.Detail);
        Assert.Equal(4, result.Requests);
        var gaps = probe.Requests.Zip(probe.Requests.Skip(1), (a, b) => b.At - a.At).ToList();
        Assert.Equal([100, 200, 400], gaps.Select(g => (int)g.TotalMilliseconds));
        // Every request asks a URL no cache has seen, on the same path.
        Assert.Equal(4, probe.Requests.Select(r => r.Url.Query).Distinct().Count());
        Assert.All(probe.Requests, r => Assert.Equal(Url.AbsolutePath, r.Url.AbsolutePath));
        Assert.All(probe.Requests, r => Assert.Contains("deploy-check=", r.Url.Query));
    }

    [Fact]
    public async Task An_unreachable_server_fails_the_check_at_the_timeout()
    {
        var probe = new FakeProbe(_time, Refused());
        var started = _time.GetUtcNow();

        var result = await Drive(() => Check(probe).CheckAsync(Url, Release, CancellationToken.None));

        Assert.False(result.Healthy);
        Assert.Contains("refused", result.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("gave up after 30 s", result.Detail);
        var elapsed = _time.GetUtcNow() - started;
        Assert.InRange(elapsed, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30.2));
        // The backoff is capped at 2 s: about 18 requests in 30 s, not thousands and not a handful.
        Assert.InRange(result.Requests, 14, 22);
        Assert.InRange((probe.Requests[^1].At - probe.Requests[^2].At).TotalSeconds, 1.9, 2.1);
    }

    [Fact]
    public async Task A_server_that_never_answers_is_cut_by_each_requests_own_timeout()
    {
        var probe = new FakeProbe(_time, Hang());
        var settings = new HealthSettings { Timeout = TimeSpan.FromSeconds(12), RequestTimeout = TimeSpan.FromSeconds(5) };

        var result = await Drive(() => Check(probe, settings).CheckAsync(Url, Release, CancellationToken.None));

        Assert.False(result.Healthy);
        Assert.Contains("no answer within", result.Detail);
        // 5 s, backoff, 5 s, backoff, then what is left of the 12 s.
        Assert.Equal(3, result.Requests);
        Assert.InRange(result.Elapsed, TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(12.2));
    }

    [Fact]
    public async Task A_wrong_answer_is_reported_even_when_a_timeout_came_after_it()
    {
        var probe = new FakeProbe(_time, Answer(200, "20261129T080000Z-ffffffff"), Hang());
        var settings = new HealthSettings { Timeout = TimeSpan.FromSeconds(3), RequestTimeout = TimeSpan.FromSeconds(1) };

        var result = await Drive(() => Check(probe, settings).CheckAsync(Url, Release, CancellationToken.None));

        Assert.False(result.Healthy);
        Assert.Contains($"serves \"20261129T080000Z-ffffffff\", not {Release}, then no answer within", result.Detail);
    }

    [Fact]
    public async Task Extra_paths_must_answer_200_from_the_same_origin()
    {
        var probe = new FakeProbe(_time, Answer(200, Release));
        var paths = new FakeProbe(_time, (url, ct) => Task.FromResult(url.AbsolutePath == "/atom.xml" ? new ProbeResponse(500, "") : new ProbeResponse(200, Release)));
        var settings = new HealthSettings { Timeout = TimeSpan.FromSeconds(5), Paths = ["/", "/atom.xml"] };

        var healthy = await Drive(() => Check(probe, settings).CheckAsync(Url, Release, CancellationToken.None));
        var broken = await Drive(() => Check(paths, settings).CheckAsync(Url, Release, CancellationToken.None));

        Assert.True(healthy.Healthy, healthy.Detail);
        Assert.Equal(["/.well-known/release", "/", "/atom.xml"], probe.Requests.Select(r => r.Url.AbsolutePath));
        Assert.All(probe.Requests, r => Assert.Equal("192.0.2.1:8080", r.Url.Authority));
        Assert.False(broken.Healthy);
        Assert.Contains("/atom.xml: HTTP 500", broken.Detail);
    }

    [Fact]
    public async Task A_redirect_is_reported_with_where_it_points()
    {
        var probe = new FakeProbe(_time, (_, _) => Task.FromResult(new ProbeResponse(301, "", "https://blog.example.org/.well-known/release\u001b[2J")));
        var result = await Drive(() => Check(probe, new HealthSettings { Timeout = TimeSpan.FromSeconds(1) }).CheckAsync(Url, Release, CancellationToken.None));
        Assert.False(result.Healthy);
        Assert.Contains("HTTP 301 to https://blog.example.org/.well-known/release", result.Detail);
        Assert.DoesNotContain("\u001b", result.Detail);
    }

    [Fact]
    public async Task Cancellation_is_not_mistaken_for_an_unhealthy_server()
    {
        var probe = new FakeProbe(_time, Hang());
        using var cancel = new CancellationTokenSource();
        var check = Check(probe).CheckAsync(Url, Release, cancel.Token);
        _time.Advance(TimeSpan.FromSeconds(1));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => check);
    }
}
