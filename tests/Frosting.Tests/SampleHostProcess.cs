using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Frosting.Tests;

/// <summary>
/// tests/SampleHost run as a real child process: output lines collected as they come (ANSI colours
/// stripped), waits on printed lines, and POSIX signals sent with kill(1).
/// </summary>
public sealed partial class SampleHostProcess : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _changed = new(0);
    private readonly TaskCompletionSource _stdoutDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SampleHostProcess(Process process) => _process = process;

    public static string SampleHostDll { get; } = typeof(SampleHostProcess).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "SampleHostDll").Value!;

    public int Id => _process.Id;

    public IReadOnlyList<string> Lines
    {
        get { lock (_gate) { return [.. _lines]; } }
    }

    public string Output => string.Join('\n', Lines);

    /// <summary>
    /// Starts the host with SIGINT at its default disposition: CI may start jobs with SIGINT ignored,
    /// and an ignored disposition is inherited; env --default-signal restores it.
    /// </summary>
    public static SampleHostProcess Start(params string[] args)
    {
        Assert.True(File.Exists(SampleHostDll), $"SampleHost not built at {SampleHostDll}");
        var info = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("--default-signal=INT");
        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(SampleHostDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";

        var process = new Process { StartInfo = info };
        var host = new SampleHostProcess(process);
        process.OutputDataReceived += (_, e) => host.Add(e.Data, host._stdoutDone);
        process.ErrorDataReceived += (_, e) => host.Add(e.Data, host._stderrDone);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Runs the host to its end and returns its exit code and output.</summary>
    public static async Task<HostResult> RunAsync(params string[] args)
    {
        await using var host = Start(args);
        var code = await host.WaitForExitAsync();
        return new HostResult(code, host.Lines);
    }

    private void Add(string? line, TaskCompletionSource done)
    {
        if (line is null)
        {
            done.TrySetResult();
        }
        else
        {
            lock (_gate)
            {
                _lines.Add(Ansi().Replace(line, ""));
            }
        }

        _changed.Release();
    }

    /// <summary>Waits until a line containing <paramref name="text"/> is printed; fails on exit or timeout.</summary>
    public async Task<string> WaitForLineAsync(string text)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        while (true)
        {
            var line = Lines.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
            if (line is not null)
            {
                return line;
            }

            if (_stdoutDone.Task.IsCompleted && _stderrDone.Task.IsCompleted)
            {
                Assert.Fail($"The host ended without printing '{text}'. Output:\n{Output}");
            }

            try
            {
                await _changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"No line with '{text}' within {Timeout}. Output:\n{Output}");
            }
        }
    }

    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            await Task.WhenAll(_stdoutDone.Task, _stderrDone.Task).WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The host did not exit within {Timeout}. Output:\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>Sends a POSIX signal (INT, TERM) with kill(1); Process.Kill would send SIGKILL.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", Id.ToString()]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }


    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // Only after a failed assertion: do not leave a host running.
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _changed.Dispose();
    }

    [GeneratedRegex(@"\x1b\[[0-9;]*[A-Za-z]")]
    private static partial Regex Ansi();
}

public sealed record HostResult(int ExitCode, IReadOnlyList<string> Lines)
{
    public string Output => string.Join('\n', Lines);

    /// <summary>Index of the first line equal to <paramref name="line"/> (trimmed); -1 if absent.</summary>
    public int IndexOf(string line) => Lines.ToList().FindIndex(l => l.Trim() == line);

    public bool Has(string line) => IndexOf(line) >= 0;

    /// <summary>Asserts that the given lines are all printed, in this order.</summary>
    public void AssertOrder(params string[] lines)
    {
        var indexes = lines.Select(IndexOf).ToList();
        for (var i = 0; i < lines.Length; i++)
        {
            Assert.True(indexes[i] >= 0, $"'{lines[i]}' not printed. Output:\n{Output}");
            if (i > 0)
            {
                Assert.True(indexes[i - 1] < indexes[i], $"'{lines[i - 1]}' not before '{lines[i]}'. Output:\n{Output}");
            }
        }
    }
}
