using System.Runtime.InteropServices;

namespace Bench;

/// <summary>
/// CPU time (user and system) of the finished children of this process, from getrusage(RUSAGE_CHILDREN):
/// the difference around one contender's run is what its processes spent, however many they were
/// (rsync's ssh, deploy's program). The sshd servers are children too, but count only when they exit.
/// </summary>
public static class CpuTime
{
    private const int RusageChildren = -1;

    public static double OfChildren()
    {
        if (getrusage(RusageChildren, out var usage) != 0) return 0;
        return usage.UserSeconds + usage.UserMicroseconds / 1e6 + usage.SystemSeconds + usage.SystemMicroseconds / 1e6;
    }

    /// <summary>struct rusage on 64-bit Linux: two timevals, then fourteen longs.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 14)]
        public long[] Rest;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrusage(int who, out Rusage usage);
}
