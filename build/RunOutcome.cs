using System.Reflection;
using System.Runtime.InteropServices;
using Cake.Core;

namespace Build;

/// <summary>
/// What the pipeline saw fail, turned into its exit code around the host's run. Cake.Frosting returns
/// -1 for every failure, so the pipeline keeps its own record: the context's settings error, or the
/// exception the teardown is told about. A swap to the package keeps 1, 2, 3, 130 and 143.
/// </summary>
public sealed class RunOutcome
{
    private readonly Lock _gate = new();
    private Exception? _failure;
    private bool _contextCreated;

    /// <summary>The context's constructor started: the host got past the command line and its own start.</summary>
    public void ContextCreated()
    {
        lock (_gate) _contextCreated = true;
    }

    /// <summary>Keeps the first failure (a later one is usually a consequence of it).</summary>
    public void Failed(Exception? failure)
    {
        if (failure is null) return;
        lock (_gate) _failure ??= failure;
    }

    /// <summary>
    /// A signal decides (130/143); else success stays 0; else the recorded failure's code; else, when the
    /// host failed before building the context (a malformed command line, a missing working directory),
    /// nothing ran and the input was bad (2); else 1.
    /// </summary>
    public int ExitCode(int hostResult, PosixSignal? signal)
    {
        if (signal is { } received) return ExitCodes.For(received);
        if (hostResult == 0) return ExitCodes.Success;
        lock (_gate)
        {
            if (_failure is not null) return CodeOf(_failure);
            return _contextCreated ? ExitCodes.TaskFailed : ExitCodes.BadSettings;
        }
    }

    /// <summary>The code a failure carries through every wrapper; of several, the highest (a 3 is not hidden by a 1).</summary>
    public static int CodeOf(Exception exception)
    {
        switch (exception)
        {
            case PipelineException pipeline:
                return pipeline.ExitCode is > 0 and <= 255 ? pipeline.ExitCode : ExitCodes.TaskFailed;
            case AggregateException aggregate:
                return aggregate.InnerExceptions.Select(CodeOf).DefaultIfEmpty(ExitCodes.TaskFailed).Max();
            case TargetInvocationException { InnerException: { } inner }:
                return CodeOf(inner);
            // Cake's own exceptions around another one (e.g. the engine's CakeReportException) are only carriers.
            case { InnerException: { } inner } when exception.GetType().Assembly == typeof(CakeException).Assembly:
                return CodeOf(inner);
            default:
                return ExitCodes.TaskFailed;
        }
    }
}
