using Cake.Core;
using Cake.Frosting;
using Microsoft.Extensions.DependencyInjection;

namespace SampleHost;

/// <summary>A service registered by <see cref="SampleStartup"/> (UseStartup), taken by the context's constructor.</summary>
public sealed class Greeting
{
    public string Text => "registered by UseStartup";
}

public sealed class SampleStartup : IFrostingStartup
{
    public void Configure(IServiceCollection services) => services.AddSingleton<Greeting>();
}

/// <summary>A failure carrying its exit code, like the pipeline's PipelineException.</summary>
public sealed class CodedException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>A typed context built through DI from a registered service, like the pipeline's BuildContext.</summary>
public sealed class SampleContext : FrostingContext
{
    public SampleContext(ICakeContext context, Greeting greeting)
        : base(context)
    {
        Greeting = greeting;
        if (context.Arguments.HasArgument("bad-setting"))
        {
            throw new CodedException(
                $"Setting --bad-setting: '{context.Arguments.GetArgument("bad-setting")}' is not valid; give a number.", 2);
        }
    }

    public Greeting Greeting { get; }
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
