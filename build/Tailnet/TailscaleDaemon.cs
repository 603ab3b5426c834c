using System.Diagnostics;
using System.Runtime.InteropServices;
using Build.Output;
using Build.Processes;

namespace Build.Tailnet;

/// <summary>
/// A running <c>tailscaled</c>: its own environment (no secrets, Alpine's PATH and firewall mode),
/// its output redacted into <c>artifacts/tailscaled.log</c>, and a bounded stop (SIGTERM, then SIGKILL).
/// </summary>
public sealed class TailscaleDaemon : IDisposable
{
    public const string LibexecDirectory = "/usr/libexec/tailscale";
    private const int TailLines = 20;

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Queue<string> _tail = new();
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _streamsClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _streamsOpen = 2;

    private TailscaleDaemon(Process process, StreamWriter log, IReadOnlyList<string> arguments)
    {
        _process = process;
        _log = log;
        Arguments = arguments;
    }

    public IReadOnlyList<string> Arguments { get; }

    public int ProcessId => _process.Id;

    /// <summary>Completes when the daemon has exited and its output is in the log.</summary>
    public Task Exited => _exited.Task;

    public bool HasExited => _exited.Task.IsCompleted;

    public int? ExitCode { get; private set; }

    /// <summary>The daemon's environment: the pipeline's without secrets, Alpine's additions on top.</summary>
    public static IReadOnlyDictionary<string, string?> EnvironmentFor(Func<string, string?> environment)
    {
        var path = environment("PATH");
        return new Dictionary<string, string?>
        {
            // Alpine's init script does this: the folder holds the resolvconf wrapper the daemon calls.
            ["PATH"] = string.IsNullOrEmpty(path) ? LibexecDirectory : LibexecDirectory + Path.PathSeparator + path,
            ["TS_DEBUG_FIREWALL_MODE"] = environment("TS_DEBUG_FIREWALL_MODE") is { Length: > 0 } mode ? mode : "nftables",
        };
    }

    public static TailscaleDaemon Start(
        string binary,
        IReadOnlyList<string> arguments,
        Func<string, string?> environment,
        string logPath,
        Redactor redactor)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var spec = new ProcessSpec(binary, arguments) { Environment = EnvironmentFor(environment) };
        var process = new Process { StartInfo = ProcessRunner.StartInfo(spec), EnableRaisingEvents = true };
        var daemon = new TailscaleDaemon(process, log, arguments);
        log.WriteLine(redactor.Redact($"# {DateTimeOffset.UtcNow:O} starting {spec}"));
        process.Exited += (_, _) => daemon.OnExited();
        process.OutputDataReceived += (_, e) => daemon.OnLine(e.Data, redactor);
        process.ErrorDataReceived += (_, e) => daemon.OnLine(e.Data, redactor);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            log.Dispose();
            process.Dispose();
            throw new PipelineException($"Could not start {binary}: {e.Message}.", inner: e);
        }
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return daemon;
    }

    /// <summary>The last lines the daemon printed (already redacted).</summary>
    public string Tail(int lines = TailLines)
    {
        lock (_gate) return string.Join('\n', _tail.TakeLast(lines));
    }

    public bool TailContains(string text)
    {
        lock (_gate) return _tail.Any(l => l.Contains(text, StringComparison.Ordinal));
    }

    public string? LastLineContaining(string text)
    {
        lock (_gate) return _tail.LastOrDefault(l => l.Contains(text, StringComparison.Ordinal));
    }

    /// <summary>
    /// SIGTERM (a graceful stop of a <c>mem:</c> node also logs it out), wait up to
    /// <paramref name="grace"/>, SIGKILL only if it is still alive. Returns how it ended.
    /// </summary>
    public async Task<string> StopAsync(TimeSpan grace, TimeSpan killWait)
    {
        if (HasExited) return $"had already exited ({ExitCode})";
        Signal(15);
        if (await WaitAsync(grace)) return "stopped after SIGTERM";
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        await WaitAsync(killWait);
        return "did not stop after SIGTERM: killed (SIGKILL)";
    }

    public void Dispose()
    {
        if (!HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }
        lock (_gate) _log.Dispose();
        _process.Dispose();
    }

    private async Task<bool> WaitAsync(TimeSpan bound)
    {
        try
        {
            await _exited.Task.WaitAsync(bound);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private void Signal(int signal)
    {
        try
        {
            if (!_process.HasExited) _ = kill(_process.Id, signal);
        }
        catch (InvalidOperationException)
        {
        }
    }

    private void OnExited() => _ = Task.Run(async () =>
    {
        // Let the last lines reach the log first (a grandchild holding the pipes open must not block this).
        await Task.WhenAny(_streamsClosed.Task, Task.Delay(TimeSpan.FromSeconds(1)));
        ExitCode = _process.ExitCode;
        _exited.TrySetResult();
    });

    private void OnLine(string? line, Redactor redactor)
    {
        if (line is null)
        {
            if (Interlocked.Decrement(ref _streamsOpen) == 0) _streamsClosed.TrySetResult();
            return;
        }
        line = redactor.Redact(line);
        lock (_gate)
        {
            _tail.Enqueue(line);
            while (_tail.Count > 200) _tail.Dequeue();
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    // DllImport, not LibraryImport: the latter needs unsafe code enabled for the whole project.
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
