namespace Build;

/// <summary>
/// A failure that carries its exit code. The pipeline maps it around the host's run
/// (<see cref="RunOutcome"/>), so tasks only throw.
/// </summary>
public class PipelineException(string message, int exitCode = ExitCodes.TaskFailed, Exception? inner = null)
    : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
