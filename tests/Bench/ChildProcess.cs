using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Bench;

/// <summary>A finished child: exit code, merged output, wall time, and the largest VmHWM seen in its process tree.</summary>
public sealed record ChildResult(int ExitCode, string Output, TimeSpan Elapsed, long PeakRssKb)
{
    public ChildResult EnsureSuccess(string what) =>
        ExitCode == 0 ? this : throw new InvalidOperationException($"{what} failed with exit code {ExitCode}:\n{Tail()}");

    public string Tail(int lines = 30) => string.Join('\n', Output.TrimEnd().Split('\n').TakeLast(lines));
}

/// <summary>
/// Runs a program with an argv (no shell line), times it from start to exit, and samples the peak
/// resident memory (VmHWM, the kernel's own high-water mark) of it and its descendants until it
/// exits. The largest single process's peak is reported: for deploy that is our program itself.
/// </summary>
public static class ChildProcess
{
    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(10);

    public static async Task<ChildResult> RunAsync(
        string fileName, IReadOnlyList<string> arguments, string? workingDirectory = null,
        Action<string>? onLine = null, CancellationToken cancellationToken = default,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        var output = new StringBuilder();
        void Line(string? line)
        {
            if (line is null) return;
            lock (output) output.AppendLine(line);
            onLine?.Invoke(line);
        }

        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => Line(e.Data);
        var stopwatch = Stopwatch.StartNew();
        if (!process.Start()) throw new InvalidOperationException($"cannot start {fileName}");
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var sampling = new CancellationTokenSource();
        var sampler = SamplePeakAsync(process.Id, sampling.Token);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { }
            throw;
        }
        finally
        {
            stopwatch.Stop();
            await sampling.CancelAsync();
        }
        var peak = await sampler;
        lock (output) return new ChildResult(process.ExitCode, output.ToString(), stopwatch.Elapsed, peak);
    }

    private static async Task<long> SamplePeakAsync(int pid, CancellationToken token)
    {
        long peak = 0;
        while (true)
        {
            foreach (var p in Tree(pid)) peak = Math.Max(peak, ReadVmHwmKb(p));
            if (token.IsCancellationRequested) return peak;
            try { await Task.Delay(SampleInterval, token); }
            catch (OperationCanceledException) { return peak; }
        }
    }

    /// <summary>The process and its descendants, from /proc/PID/task/TID/children.</summary>
    internal static IEnumerable<int> Tree(int root)
    {
        var pending = new Stack<int>([root]);
        var seen = new HashSet<int>();
        while (pending.Count > 0)
        {
            var pid = pending.Pop();
            if (!seen.Add(pid)) continue;
            yield return pid;
            string[] tasks;
            try { tasks = Directory.GetDirectories($"/proc/{pid}/task"); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            foreach (var task in tasks)
            {
                string children;
                try { children = File.ReadAllText(Path.Join(task, "children")); }
                catch (IOException) { continue; }
                catch (UnauthorizedAccessException) { continue; }
                foreach (var child in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    if (int.TryParse(child, NumberStyles.None, CultureInfo.InvariantCulture, out var c)) pending.Push(c);
            }
        }
    }

    /// <summary>VmHWM of a process in kB; 0 when it is gone.</summary>
    internal static long ReadVmHwmKb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 0;
    }
}
