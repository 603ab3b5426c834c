using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Build.Tests.Support;

/// <summary>What one run of the pipeline program printed and returned.</summary>
public sealed record PipelineRun(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public string Text => Stdout + Stderr;
}

/// <summary>
/// Runs the pipeline program this test assembly was built with (build/bin/&lt;config&gt;/net10.0/Build.dll)
/// as a real child: SIGINT at its default disposition (CI may start processes with it ignored), stdin
/// closed, and the caller's environment without the pipeline's own settings and secrets.
/// </summary>
public static class PipelineProcess
{
    private static readonly string[] SettingPrefixes = ["TS_", "DEPLOY_", "SSH_", "GITLAB", "CI"];

    public static string BuildDll
    {
        get
        {
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
            return Path.Join(Repo.Root, "build", "bin", here.Parent!.Name, here.Name, "Build.dll");
        }
    }

    /// <param name="onStdout">Sees each stdout line as it comes (to wait on markers in <paramref name="during"/>).</param>
    /// <param name="during">Runs while the program does (send a signal, say); the run is killed if it throws.</param>
    public static async Task<PipelineRun> RunAsync(
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string> environment,
        TimeSpan timeout,
        Action<string>? onStdout = null,
        Func<Process, Task>? during = null)
    {
        var info = new ProcessStartInfo("env")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var a in new[] { "--default-signal=INT", "dotnet", BuildDll }.Concat(arguments)) info.ArgumentList.Add(a);
        foreach (var name in info.Environment.Keys.Where(k => SettingPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal))).ToArray())
            info.Environment.Remove(name);
        foreach (var (name, value) in environment) info.Environment[name] = value;

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var watch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stdout) stdout.AppendLine(e.Data);
            onStdout?.Invoke(e.Data);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            if (during is not null) await during(process);
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        process.WaitForExit();
        lock (stdout) lock (stderr) return new PipelineRun(process.ExitCode, stdout.ToString(), stderr.ToString(), watch.Elapsed);
    }

    /// <summary>Sends a real signal (Process.Kill would send SIGKILL); 0 when it was delivered.</summary>
    public static int Signal(Process process, int signal) => kill(process.Id, signal);

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
