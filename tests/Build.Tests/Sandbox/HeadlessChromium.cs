using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Build.Tests.Sandbox;

/// <summary>A fact that runs where Chromium is installed (the Test target installs it as root), skipped with that reason elsewhere.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (HeadlessChromium.Executable is null) Skip = "chromium is not installed (Debian: apt-get install chromium; the Test target installs it as root)";
    }
}

/// <summary>
/// Headless Chromium driven over the DevTools protocol (a WebSocket on a port it picks and writes to
/// DevToolsActivePort): navigate, evaluate a script in the page, take a screenshot. Every wait bounded.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public static string? Executable { get; } =
        new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);

    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly StringBuilder _log = new();
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <param name="allowedHost">The only host name resolved: the page's other requests (CDNs) fail at once instead of waiting on a network.</param>
    public static async Task<HeadlessChromium> StartAsync(string allowedHost, CancellationToken cancellationToken)
    {
        var profile = Directory.CreateTempSubdirectory("chromium-profile-").FullName;
        var info = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("chromium is not installed"))
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--mute-audio",
            "--remote-debugging-port=0", $"--user-data-dir={profile}", "--window-size=1280,900",
            $"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {allowedHost}", "about:blank",
        }) info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        var chromium = new HeadlessChromium(process, profile);
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (chromium._log) chromium._log.AppendLine(e.Data); };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (chromium._log) chromium._log.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            await chromium.ConnectAsync(cancellationToken);
            return chromium;
        }
        catch
        {
            await chromium.DisposeAsync();
            throw;
        }
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        // Chromium writes the port it picked (and the browser's WebSocket path) once it listens.
        var portFile = Path.Join(_profile, "DevToolsActivePort");
        while (!File.Exists(portFile) || File.ReadAllLines(portFile).Length < 2)
        {
            if (_process.HasExited) throw new InvalidOperationException($"chromium exited ({_process.ExitCode}):\n{Log}");
            await Task.Delay(50, cancellationToken);
        }
        var port = int.Parse(File.ReadAllLines(portFile)[0].Trim());
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string? pageSocket = null;
        while (pageSocket is null)
        {
            var targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list", cancellationToken))!.AsArray();
            pageSocket = targets.FirstOrDefault(t => (string?)t!["type"] == "page")?["webSocketDebuggerUrl"]?.GetValue<string>();
            if (pageSocket is null) await Task.Delay(50, cancellationToken);
        }
        await _socket.ConnectAsync(new Uri(pageSocket), cancellationToken);
    }

    /// <summary>Loads <paramref name="url"/> and waits for its load event.</summary>
    public async Task NavigateAsync(string url, CancellationToken cancellationToken)
    {
        await SendAsync("Page.enable", new JsonObject(), cancellationToken);
        var loaded = WaitEventAsync("Page.loadEventFired", cancellationToken);
        var result = await SendAsync("Page.navigate", new JsonObject { ["url"] = url }, cancellationToken);
        if (result["errorText"] is { } error) throw new InvalidOperationException($"navigate {url}: {error}");
        await loaded;
    }

    /// <summary>Evaluates <paramref name="expression"/> in the page (awaiting a promise) and returns its value as JSON.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression, CancellationToken cancellationToken)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject
        {
            ["expression"] = expression, ["awaitPromise"] = true, ["returnByValue"] = true,
        }, cancellationToken);
        if (result["exceptionDetails"] is { } exception) throw new InvalidOperationException($"script failed: {exception.ToJsonString()}");
        return result["result"]?["value"]?.DeepClone();
    }

    public async Task<byte[]> ScreenshotAsync(CancellationToken cancellationToken)
    {
        var result = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" }, cancellationToken);
        return Convert.FromBase64String((string)result["data"]!);
    }

    private readonly Dictionary<int, TaskCompletionSource<JsonNode>> _pending = [];
    private readonly Dictionary<string, TaskCompletionSource> _events = [];
    private Task? _reader;

    private Task WaitEventAsync(string method, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_pending) _events[method] = done;
        return done.Task.WaitAsync(cancellationToken);
    }

    private async Task<JsonNode> SendAsync(string method, JsonObject parameters, CancellationToken cancellationToken)
    {
        _reader ??= Task.Run(ReadLoopAsync, CancellationToken.None);
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_pending) _pending[id] = reply;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters }.ToJsonString();
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        var answer = await reply.Task.WaitAsync(cancellationToken);
        if (answer["error"] is { } error) throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
        return answer["result"] ?? new JsonObject();
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[1 << 16];
        using var message = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var received = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage) continue;
                var node = JsonNode.Parse(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length))!;
                message.SetLength(0);
                lock (_pending)
                {
                    if (node["id"] is { } id && _pending.Remove((int)id, out var reply)) reply.TrySetResult(node);
                    else if ((string?)node["method"] is { } method && _events.Remove(method, out var waiter)) waiter.TrySetResult();
                }
            }
        }
        catch (WebSocketException)
        {
            // Chromium went away: the pending calls fail below.
        }
        lock (_pending)
        {
            foreach (var reply in _pending.Values) reply.TrySetException(new InvalidOperationException("chromium closed the DevTools connection"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { if (_socket.State == WebSocketState.Open) _socket.Abort(); } catch (WebSocketException) { }
        _socket.Dispose();
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        _process.Dispose();
        if (_reader is not null) await _reader.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
