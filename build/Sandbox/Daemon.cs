using System.Diagnostics;
using Build.Processes;

namespace Build.Sandbox;

/// <summary>A daemon the sandbox started: which one, its pid, and the file only its command line names.</summary>
public sealed record DaemonRecord(string Role, int Pid, string Config);

/// <summary>
/// Starts a daemon detached from this process (its own session through <c>setsid</c>, stdin from
/// /dev/null, stdout and stderr appended to a log file), so no terminal, pipe or CI log stays held
/// open and the daemon outlives the run. Finds and stops daemons by pid, telling a live one from a
/// stale pid (gone, a zombie, or reused by another program) by the config path on its command line.
/// </summary>
public sealed class Daemons(TimeProvider time)
{
    /// <summary>Starts <paramref name="program"/> with <paramref name="arguments"/>; returns the pid (setsid execs in place).</summary>
    /// <param name="runAs">Drops to this account first (setpriv), when running as root.</param>
    public int Start(string setsid, string program, IReadOnlyList<string> arguments, string log, (string SetPriv, int Uid, int Gid)? runAs = null)
    {
        // sh opens the log and /dev/null, then execs: the pid is the daemon's own (this process is no
        // group leader for its child, so setsid does not fork).
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1");
        info.ArgumentList.Add("sh");
        info.ArgumentList.Add(log);
        info.ArgumentList.Add(setsid);
        if (runAs is { } user)
        {
            info.ArgumentList.Add(user.SetPriv);
            info.ArgumentList.Add($"--reuid={user.Uid}");
            info.ArgumentList.Add($"--regid={user.Gid}");
            info.ArgumentList.Add("--clear-groups");
        }
        info.ArgumentList.Add(program);
        foreach (var a in arguments) info.ArgumentList.Add(a);
        ProcessRunner.ScrubSecrets(info.Environment);
        using var process = Process.Start(info) ?? throw new PipelineException($"Could not start {program}.");
        return process.Id;
    }

    /// <summary>True when <paramref name="daemon"/>'s pid runs the program the sandbox started (not a zombie, not a reused pid).</summary>
    public static bool IsAlive(DaemonRecord daemon) => IsAlive(daemon.Pid, daemon.Config);

    public static bool IsAlive(int pid, string? marker)
    {
        if (pid <= 1) return false;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The state follows the parenthesised command name, which may itself hold spaces or parentheses.
            var state = stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault();
            if (state is 'Z' or 'X' or 'x') return false;
            if (marker is null) return true;
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            return cmdline.Contains(marker, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The pids whose parent is <paramref name="pid"/> (nginx's workers), for a caller that checks they went too.</summary>
    public static IReadOnlyList<int> Children(int pid)
    {
        var children = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var child)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Join(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields.Length > 1 && int.TryParse(fields[1], out var parent) && parent == pid) children.Add(child);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone while listing.
            }
        }
        return children;
    }

    /// <summary>
    /// SIGTERM, then waits (bounded) for it to go; SIGKILL if it will not. Returns false for a stale pid
    /// (nothing of ours ran there), which is left alone.
    /// </summary>
    public async Task<bool> StopAsync(DaemonRecord daemon, TimeSpan grace, CancellationToken cancellationToken)
    {
        if (!IsAlive(daemon)) return false;
        var children = Children(daemon.Pid);
        Signal(daemon.Pid, Sigterm);
        if (!await WaitGoneAsync(daemon.Pid, daemon.Config, grace, cancellationToken))
        {
            Signal(daemon.Pid, Sigkill);
            await WaitGoneAsync(daemon.Pid, daemon.Config, grace, cancellationToken);
        }
        // A worker whose master was killed outright would linger: those still there go too.
        foreach (var child in children.Where(c => IsAlive(c, null)))
            Signal(child, Sigkill);
        return true;
    }

    private async Task<bool> WaitGoneAsync(int pid, string marker, TimeSpan bound, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + bound;
        while (IsAlive(pid, marker))
        {
            if (time.GetUtcNow() > deadline) return false;
            await Task.Delay(TimeSpan.FromMilliseconds(25), time, cancellationToken);
        }
        return true;
    }

    private const int Sigkill = 9;
    private const int Sigterm = 15;

    private static void Signal(int pid, int signal) => _ = kill(pid, signal);

    // DllImport, not LibraryImport: the latter needs unsafe code enabled for the whole project.
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
