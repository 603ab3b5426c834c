using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Build.Tests.Tailnet.Api;

/// <summary>
/// A local HTTP server (HttpListener on 127.0.0.1) that plays the Tailscale API endpoints the
/// cleanup calls. Each request is recorded; <see cref="Respond"/> decides the answer, and a null
/// answer means none ever comes (the connection is held until the server is disposed).
/// </summary>
public sealed class FakeTailscaleApi : IAsyncDisposable
{
    public sealed record Request(string Method, string Path, string? Authorization, string Body)
    {
        /// <summary>Every request header (the policy endpoints read Accept, Content-Type and If-Match).</summary>
        public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

        public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
    }

    public sealed record Response(int Status, string Body = "")
    {
        public string ContentType { get; init; } = "application/json";

        /// <summary>Extra response headers (ETag for the policy read).</summary>
        public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();
    }

    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FakeTailscaleApi(Func<Request, Response?> respond)
    {
        Respond = respond;
        for (var attempt = 0; ; attempt++)
        {
            var port = FreePort();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                _listener.Start();
                BaseUrl = new Uri($"http://127.0.0.1:{port}");
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                // The port was taken between picking and binding it: pick another.
            }
        }
        _loop = Task.Run(LoopAsync);
    }

    public Uri BaseUrl { get; private set; } = null!;

    public Func<Request, Response?> Respond { get; set; }

    public ConcurrentQueue<Request> Requests { get; } = new();

    public IReadOnlyList<Request> RequestsTo(string method, string path) =>
        Requests.Where(r => r.Method == method && r.Path == path).ToList();

    /// <summary>The documented token answer.</summary>
    public static Response Token(string token) =>
        new(200, $$"""{"access_token":"{{token}}","token_type":"Bearer","expires_in":3600,"scope":"devices:core"}""");

    /// <summary>The documented device-list answer (a subset of the fields).</summary>
    public static Response Devices(params (string Id, string NodeId, string Hostname, string Created)[] devices) =>
        new(200, "{\"devices\":[" + string.Join(',', devices.Select(d =>
            $$"""{"addresses":["100.64.0.9"],"id":"{{d.Id}}","nodeId":"{{d.NodeId}}","user":"tagged-devices","name":"{{d.Hostname}}.tail1234.ts.net","hostname":"{{d.Hostname}}","clientVersion":"1.90.0","os":"linux","created":"{{d.Created}}","lastSeen":"2026-11-25T23:00:00Z","tags":["tag:ci"],"authorized":true,"isExternal":false}""")) + "]}");

    public static Response Error(int status, string message) => new(status, $$"""{"message":"{{message}}"}""");

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        try
        {
            string body;
            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8)) body = await reader.ReadToEndAsync();
            var headers = context.Request.Headers.AllKeys.Where(k => k is not null)
                .ToDictionary(k => k!, k => context.Request.Headers[k] ?? "", StringComparer.OrdinalIgnoreCase);
            var request = new Request(context.Request.HttpMethod, context.Request.Url!.AbsolutePath, context.Request.Headers["Authorization"], body) { Headers = headers };
            Requests.Enqueue(request);
            var response = Respond(request);
            if (response is null)
            {
                // Never answer: hold the connection until the server stops.
                try { await Task.Delay(Timeout.Infinite, _stop.Token); } catch (OperationCanceledException) { }
                context.Response.Abort();
                return;
            }
            var bytes = Encoding.UTF8.GetBytes(response.Body);
            context.Response.StatusCode = response.Status;
            context.Response.ContentType = response.ContentType;
            foreach (var (name, value) in response.Headers) context.Response.AddHeader(name, value);
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (HttpListenerException)
        {
            // The client gave up (its attempt timed out) before the answer.
        }
    }

    /// <summary>A port nobody listens on (for "connection refused").</summary>
    public static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            // Close alone: Stop then Close removes the prefixes twice, and the second removal may try to bind the port again.
            _listener.Close();
        }
        catch (HttpListenerException)
        {
        }
        await _loop.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }
}
