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
}

/// <summary>
/// A failure that carries its exit code. The host reads the public <c>ExitCode</c> property
/// (see build/Frosting/README.md), so tasks only throw.
/// </summary>
public class PipelineException(string message, int exitCode = ExitCodes.TaskFailed, Exception? inner = null)
    : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
