using System.Runtime.InteropServices;

namespace Build;

/// <summary>Exit codes of the pipeline (README's table).</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int TaskFailed = 1;
    public const int BadSettings = 2;
    public const int SomeServersFailed = 3;
    public const int Interrupted = 130;
    public const int Terminated = 143;

    /// <summary>128 + the signal number, as a shell reports a process killed by that signal.</summary>
    public static int For(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGINT => Interrupted,
        PosixSignal.SIGTERM => Terminated,
        _ => throw new ArgumentOutOfRangeException(nameof(signal), signal, "Only SIGINT and SIGTERM are handled."),
    };
}
