using System.Runtime.InteropServices;
using Cake.Core;
using Cake.Frosting;

namespace SampleHost;

/// <summary>What the pipeline's Interruption is: the host reports signals here, tasks observe the token.</summary>
public sealed class StopSignal : IObserver<PosixSignal>
{
    private readonly CancellationTokenSource _cts = new();

    public CancellationToken Token => _cts.Token;

    public void OnNext(PosixSignal value)
    {
        Console.WriteLine($"OBSERVED {value}");
        _cts.Cancel();
    }

    public void OnCompleted() { }

    public void OnError(Exception error) { }
}

/// <summary>A failure carrying its exit code, like the pipeline's PipelineException.</summary>
public sealed class CodedException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>A typed context built through DI from a registered service, like the pipeline's BuildContext.</summary>
public sealed class SampleContext : FrostingContext
{
    public SampleContext(ICakeContext context, StopSignal stop)
        : base(context)
    {
        Stop = stop;
        if (context.Arguments.HasArgument("bad-setting"))
        {
            throw new CodedException(
                $"Setting --bad-setting: '{context.Arguments.GetArgument("bad-setting")}' is not valid; give a number.", 2);
        }
    }

    public StopSignal Stop { get; }
}

public sealed class SampleLifetime : FrostingLifetime<SampleContext>
{
    public override void Setup(SampleContext context, ISetupContext info) => Console.WriteLine("SETUP");

    public override void Teardown(SampleContext context, ITeardownContext info)
    {
        Console.WriteLine($"TEARDOWN-START successful={info.Successful}");
        if (context.Arguments.HasArgument("slow-teardown"))
        {
            // The test releases the teardown by writing a line, after it has sent a second signal.
            Console.WriteLine($"TEARDOWN-WAITING {Console.In.ReadLine()}");
        }

        Console.WriteLine("TEARDOWN-END");
    }
}

public sealed class SampleTaskLifetime : FrostingTaskLifetime<SampleContext>
{
    public override void Setup(SampleContext context, ITaskSetupContext info) => Console.WriteLine($"TASK-SETUP {info.Task.Name}");

    public override void Teardown(SampleContext context, ITaskTeardownContext info) => Console.WriteLine($"TASK-TEARDOWN {info.Task.Name}");
}
