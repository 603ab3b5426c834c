using System.Reflection;
using System.Runtime.InteropServices;
using Cake.Cli;
using Cake.Common.Modules;
using Cake.Core;
using Cake.Core.Configuration;
using Cake.Core.Diagnostics;
using Cake.Core.IO;
using Cake.Core.Scripting;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace Cake.Frosting.Internal;

/// <summary>One run of a <see cref="CakeHost"/>: command line, services, tasks, engine, exit code.</summary>
internal sealed class HostRunner(
    IReadOnlyList<Action<IServiceCollection>> configure,
    IReadOnlyList<Assembly> assemblies,
    DirectoryPath? workingDirectory)
{
    private const int BadInput = 2;

    public int Run(IReadOnlyList<string> args)
    {
        HostOptions options;
        try
        {
            options = CommandLine.Parse(args);
        }
        catch (CommandLineException exception)
        {
            Console.Error.WriteLine($"Error: {exception.Message}");
            Console.Error.WriteLine("Run with --help to see the options.");
            return exception.ExitCode;
        }

        if (options.Help)
        {
            Console.Out.WriteLine(CommandLine.Usage);
            return 0;
        }

        var taskTypes = TaskRegistrar.FindTasks(assemblies).ToList();
        using var provider = CreateServices(options, taskTypes).BuildServiceProvider();
        var log = provider.GetRequiredService<ICakeLog>();
        log.Verbosity = options.Verbosity;

        if (options.Version || options.Info)
        {
            var console = provider.GetRequiredService<IConsole>();
            var versions = provider.GetRequiredService<IVersionResolver>();
            if (options.Version)
            {
                new VersionFeature(versions).Run(console);
            }
            else
            {
                new InfoFeature(versions).Run(console);
            }

            return 0;
        }

        // Signals are caught from here on, so that even a signal during start-up ends in 130/143.
        var observers = provider.GetServices<IObserver<PosixSignal>>().ToList();
        using var signals = new SignalRelay(
            observers,
            TimeProvider.System,
            SignalRelay.TeardownBound,
            message => log.Write(Verbosity.Quiet, LogLevel.Warning, "{0}", message),
            Environment.Exit);
        signals.Register();

        var code = RunBuild(provider, options, log, () => signals.Received is not null);

        if (signals.Received is { } signal)
        {
            var interrupted = SignalRelay.ExitCodeFor(signal);
            log.Write(Verbosity.Quiet, LogLevel.Error, "Interrupted by {0}; the teardown ran. Exit code {1}.", signal, interrupted);
            return interrupted;
        }

        return code;
    }

    private ServiceCollection CreateServices(HostOptions options, IEnumerable<Type> taskTypes)
    {
        var services = new ServiceCollection();
        services.AddCakeDiagnostics();
        services.UseCakeDefaultModules();
        services.UseModule<CommonModule>();

        var arguments = new CakeArguments(options.Arguments.ToLookup(a => a.Key, a => a.Value, StringComparer.OrdinalIgnoreCase));
        services.AddSingleton<ICakeArguments>(arguments);

        // Not registered by the default modules; read once the working directory is set (cake.config lives there).
        var configurationArguments = options.Arguments
            .GroupBy(a => a.Key, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.First().Value, StringComparer.OrdinalIgnoreCase);
        services.AddSingleton<ICakeConfiguration>(provider =>
        {
            var environment = provider.GetRequiredService<ICakeEnvironment>();
            return new CakeConfigurationProvider(provider.GetRequiredService<IFileSystem>(), environment)
                .CreateConfiguration(environment.WorkingDirectory, configurationArguments);
        });

        services.AddSingleton<IVersionResolver, CakeVersionResolver>();

        // The default context; UseContext<T> registers another IFrostingContext, and the last one wins.
        services.AddSingleton<FrostingContext>();
        services.AddSingleton<IFrostingContext>(provider => provider.GetRequiredService<FrostingContext>());

        foreach (var type in taskTypes)
        {
            services.AddSingleton(typeof(IFrostingTask), type);
        }

        foreach (var action in configure)
        {
            action(services);
        }

        return services;
    }

    private int RunBuild(IServiceProvider provider, HostOptions options, ICakeLog log, Func<bool> interrupted)
    {
        IFrostingContext context;
        ICakeEngine engine;
        try
        {
            if (!SetWorkingDirectory(provider, options, log))
            {
                return BadInput;
            }

            // The context reads settings; a bad one fails here, before anything ran.
            context = provider.GetRequiredService<IFrostingContext>();
            engine = provider.GetRequiredService<ICakeEngine>();
            TaskRegistrar.Register(engine, context, provider.GetServices<IFrostingTask>(), log);
            if (!options.DryRun && !options.Tree && !options.Description)
            {
                // Unlike Cake's dry run, which still calls them: a dry run must change nothing, and a setup may.
                RegisterLifetime(provider, engine, context, log);
            }
        }
        catch (Exception exception)
        {
            return Fail(log, exception);
        }

        if (options.Tree || options.Description)
        {
            if (engine.Tasks.Count == 0)
            {
                log.Write(Verbosity.Quiet, LogLevel.Information, "No tasks are defined.");
                return 0;
            }
        }
        else if (UnknownTargets(engine, options.EffectiveTargets) is { Count: > 0 } unknown)
        {
            var known = engine.Tasks.Select(t => t.Name).Order(StringComparer.OrdinalIgnoreCase).ToList();
            log.Write(Verbosity.Quiet, LogLevel.Error, "{0}", $"Unknown target{(unknown.Count > 1 ? "s" : "")}: "
                + string.Join(", ", unknown.Select(t => $"'{t}'")) + ". "
                + (known.Count > 0 ? "Known targets: " + string.Join(", ", known) + "." : "No tasks are defined."));
            return BadInput;
        }

        var host = CreateScriptHost(provider, options, engine, context, log);
        if (options.Exclusive)
        {
            host.Settings.UseExclusiveTarget();
        }

        try
        {
            host.RunTargetsAsync(options.EffectiveTargets).GetAwaiter().GetResult();
            return 0;
        }
        catch (Exception exception) when (interrupted())
        {
            // The cancellation the signal caused is the expected way out, not an error to report.
            log.Verbose("The run ended after the signal with: {0}", Failures.Unwrap(exception).Message);
            return Failures.Failed;
        }
        catch (Exception exception)
        {
            return Fail(log, exception);
        }
    }

    private bool SetWorkingDirectory(IServiceProvider provider, HostOptions options, ICakeLog log)
    {
        var environment = provider.GetRequiredService<ICakeEnvironment>();
        var fileSystem = provider.GetRequiredService<IFileSystem>();
        var requested = options.WorkingDirectory is { } given ? new DirectoryPath(given) : workingDirectory;
        if (requested is null)
        {
            return true;
        }

        var directory = requested.MakeAbsolute(environment);
        if (!fileSystem.Exist(directory))
        {
            log.Write(Verbosity.Quiet, LogLevel.Error, "{0}", $"The working directory '{directory.FullPath}' does not exist "
                + "(--working / UseWorkingDirectory): give an existing directory.");
            return false;
        }

        environment.WorkingDirectory = directory;
        return true;
    }

    private static void RegisterLifetime(IServiceProvider provider, ICakeEngine engine, ICakeContext context, ICakeLog log)
    {
        var lifetime = provider.GetService<IFrostingLifetime>();
        if ((provider.GetService<IFrostingSetup>() ?? lifetime) is { } setup)
        {
            log.Debug("Registering setup: {0}", setup.GetType().Name);
            engine.RegisterSetupAction(info => setup.Setup(context, info));
        }

        if ((provider.GetService<IFrostingTeardown>() ?? lifetime) is { } teardown)
        {
            log.Debug("Registering teardown: {0}", teardown.GetType().Name);
            engine.RegisterTeardownAction(info => teardown.Teardown(context, info));
        }

        var taskLifetime = provider.GetService<IFrostingTaskLifetime>();
        if ((provider.GetService<IFrostingTaskSetup>() ?? taskLifetime) is { } taskSetup)
        {
            log.Debug("Registering task setup: {0}", taskSetup.GetType().Name);
            engine.RegisterTaskSetupAction(info => taskSetup.Setup(context, info));
        }

        if ((provider.GetService<IFrostingTaskTeardown>() ?? taskLifetime) is { } taskTeardown)
        {
            log.Debug("Registering task teardown: {0}", taskTeardown.GetType().Name);
            engine.RegisterTaskTeardownAction(info => taskTeardown.Teardown(context, info));
        }
    }

    private static List<string> UnknownTargets(ICakeEngine engine, IEnumerable<string> targets) =>
        targets.Where(target => !engine.Tasks.Any(task => string.Equals(task.Name, target, StringComparison.OrdinalIgnoreCase)))
            .ToList();

    private static ScriptHost CreateScriptHost(
        IServiceProvider provider, HostOptions options, ICakeEngine engine, IFrostingContext context, ICakeLog log)
    {
        if (options.DryRun)
        {
            return new DryRunScriptHost<IFrostingContext>(engine, context, log);
        }

        if (options.Tree)
        {
            return new TreeScriptHost(engine, context, provider.GetRequiredService<IConsole>());
        }

        if (options.Description)
        {
            return new DescriptionScriptHost(engine, context, provider.GetRequiredService<IAnsiConsole>());
        }

        return new BuildScriptHost<IFrostingContext>(
            engine,
            provider.GetRequiredService<IExecutionStrategy>(),
            context,
            provider.GetRequiredService<ICakeReportPrinter>(),
            provider.GetRequiredService<ICakeConfiguration>(),
            log);
    }

    /// <summary>Reports a failure plainly (the stack trace only at diagnostic verbosity) and picks the exit code.</summary>
    private static int Fail(ICakeLog log, Exception exception)
    {
        ExceptionLogger.LogException(log, Failures.Unwrap(exception));
        return Failures.ExitCode(exception);
    }
}
