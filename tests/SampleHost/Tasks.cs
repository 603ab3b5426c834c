using Cake.Core;
using Cake.Frosting;

namespace SampleHost;

// Every task prints "RUN <name>" so the tests can read the order from the output.

public sealed class A : FrostingTask<SampleContext>
{
    public override void Run(SampleContext context) => Console.WriteLine("RUN A");
}

[IsDependentOn(typeof(A))]
[TaskDescription("Runs after A.")]
public sealed class B : FrostingTask<SampleContext>
{
    public override void Run(SampleContext context) => Console.WriteLine("RUN B");
}

[IsDependentOn(typeof(B))]
[TaskDescription("Runs after B and Early.")]
public sealed class C : AsyncFrostingTask<SampleContext>
{
    public override async Task RunAsync(SampleContext context)
    {
        await Task.Yield();
        Console.WriteLine("RUN C");
    }
}

[TaskName("Early")]
[IsDependeeOf(typeof(C))]
public sealed class EarlyTask : FrostingTask
{
    public override void Run(ICakeContext context) => Console.WriteLine("RUN Early");
}

[IsDependentOn(typeof(A))]
[TaskDescription("The default target.")]
public sealed class Default : FrostingTask;

[TaskDescription("Skipped when --skip is given.")]
public sealed class Skippable : FrostingTask<SampleContext>
{
    public override bool ShouldRun(SampleContext context) => !context.Arguments.HasArgument("skip");

    public override void Run(SampleContext context) => Console.WriteLine("RUN Skippable");
}

[IsDependentOn(typeof(Skippable))]
public sealed class AfterSkippable : FrostingTask<SampleContext>
{
    public override void Run(SampleContext context) => Console.WriteLine("RUN AfterSkippable");
}

/// <summary>Fails; with --code=N the failure carries exit code N.</summary>
public sealed class Fails : FrostingTask<SampleContext>
{
    public override void Run(SampleContext context)
    {
        Console.WriteLine("RUN Fails");
        if (context.Arguments.HasArgument("code"))
        {
            throw new CodedException("failed with a code", int.Parse(context.Arguments.GetArgument("code")));
        }

        throw new InvalidOperationException("boom");
    }

    public override void Finally(SampleContext context) => Console.WriteLine("FINALLY Fails");
}

[IsDependentOn(typeof(Fails))]
public sealed class AfterFails : FrostingTask<SampleContext>
{
    public override void Run(SampleContext context) => Console.WriteLine("RUN AfterFails");
}

public sealed class Handled : FrostingTask<SampleContext>
{
    public override void Run(SampleContext context) => throw new InvalidOperationException("handled boom");

    public override void OnError(Exception exception, SampleContext context) => Console.WriteLine($"ONERROR Handled: {exception.Message}");

    public override void Finally(SampleContext context) => Console.WriteLine("FINALLY Handled");
}

[ContinueOnError]
public sealed class Tolerant : FrostingTask<SampleContext>
{
    public override void Run(SampleContext context) => throw new InvalidOperationException("tolerated boom");
}

[IsDependentOn(typeof(Tolerant))]
public sealed class AfterTolerant : FrostingTask<SampleContext>
{
    public override void Run(SampleContext context) => Console.WriteLine("RUN AfterTolerant");
}

/// <summary>Prints the arguments named by --show (each value of a repeated argument).</summary>
public sealed class Args : FrostingTask<SampleContext>
{
    public override void Run(SampleContext context)
    {
        foreach (var name in context.Arguments.GetArguments("show"))
        {
            Console.WriteLine($"ARG {name}=[{string.Join("|", context.Arguments.GetArguments(name))}]");
        }
    }
}

/// <summary>Prints what UseStartup registered and what UseCakeSetting set.</summary>
public sealed class Startup : FrostingTask<SampleContext>
{
    public override void Run(SampleContext context)
    {
        Console.WriteLine($"GREETING {context.Greeting.Text}");
        Console.WriteLine($"SETTING {context.Configuration.GetValue("sample_setting")}");
    }
}

/// <summary>A task with a constructor dependency on the context (as IFrostingContext, as in the package): the one tasks get.</summary>
public sealed class Where(IFrostingContext injected) : FrostingTask<SampleContext>
{
    public override void Run(SampleContext context)
    {
        Console.WriteLine($"WORKDIR {context.Environment.WorkingDirectory.FullPath}");
        Console.WriteLine($"SAME-CONTEXT {ReferenceEquals(injected, context)}");
    }
}
