using System.Runtime.InteropServices;

namespace Build.Processes;

/// <summary>
/// Lowers the CPU priority of the calling thread (Linux: each thread has its own nice value, and raising it needs no
/// privilege). For the site's hashing and link check, which run while the SSH handshakes do: on a 2-core runner they
/// would otherwise take the cores the handshakes' short steps wait for, and the check is done long before the upload.
/// </summary>
public static class BackgroundPriority
{
    private const int PrioProcess = 0;

    /// <summary>How much the nice value goes up: enough to yield to the handshakes, not so much that the thread starves.</summary>
    public const int Nice = 5;

    /// <summary>Best effort: elsewhere than Linux, or where the call fails, the thread keeps its priority.</summary>
    public static void LowerCurrentThread()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            var tid = (uint)gettid();
            _ = setpriority(PrioProcess, tid, Math.Min(19, getpriority(PrioProcess, tid) + Nice));
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // An old C library without gettid: the thread keeps its priority.
        }
    }

    [DllImport("libc")]
    private static extern int gettid();

    [DllImport("libc")]
    private static extern int getpriority(int which, uint who);

    [DllImport("libc")]
    private static extern int setpriority(int which, uint who, int prio);
}
