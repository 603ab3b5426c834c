using System.Diagnostics.CodeAnalysis;
using System.Reflection;
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

/// <summary>One run of a <see cref="CakeHost"/>: command line, services, tasks, engine, exit code (0 or -1, as Cake.Frosting).</summary>
internal sealed class HostRunner(IServiceCollection services, IReadOnlyList<Assembly> assemblies)
{
    /// <summary>What Cake.Frosting returns for every failure; the build program maps its own failures.</summary>
    public const int Failed = -1;

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
            return Failed;
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

        return RunBuild(provider, options, log);
    }

    [UnconditionalSuppressMessage("Trimming", "IL2072", Justification = TaskRegistrar.Rooted)]
    private IServiceCollection CreateServices(HostOptions options, IEnumerable<Type> taskTypes)
    {
        var all = new ServiceCollection();
        all.AddCakeDiagnostics();
        // Cake's default modules less its NuGet and dotnet-tool installers: nothing here installs tools (#tool), and
        // building the NuGet installer reads the user's NuGet.Config under a file lock on every start (~40 ms).
        all.UseModule<Cake.Core.Modules.CoreModule>();
        all.UseModule<CommonModule>();

        // As Cake.Frosting: "target" is always there (Default when none is given); the host's own options are not.
        var targets = options.EffectiveTargets.Select(t => new KeyValuePair<string, string>("target", t));
        var arguments = new CakeArguments(options.Arguments.Concat(targets).ToLookup(a => a.Key, a => a.Value, StringComparer.OrdinalIgnoreCase));
        all.AddSingleton<ICakeArguments>(arguments);

        // Not registered by the default modules; read once the working directory is set (cake.config lives there).
        // UseCakeSetting values first, then cake.config, then the command line.
        var configurationArguments = options.Arguments
            .GroupBy(a => a.Key, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.First().Value, StringComparer.OrdinalIgnoreCase);
        all.AddSingleton<ICakeConfiguration>(provider =>
        {
            var environment = provider.GetRequiredService<ICakeEnvironment>();
            var settings = provider.GetServices<CakeSettingValue>()
                .GroupBy(v => v.Key, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.OrdinalIgnoreCase);
            return new CakeConfigurationProvider(provider.GetRequiredService<IFileSystem>(), environment)
                .CreateConfiguration(environment.WorkingDirectory, settings, configurationArguments);
        });

        all.AddSingleton<IVersionResolver, CakeVersionResolver>();

        // The default context; UseContext<T> registers another IFrostingContext, and the last one wins.
        all.AddSingleton<FrostingContext>();
        all.AddSingleton<IFrostingContext>(provider => provider.GetRequiredService<FrostingContext>());

        foreach (var type in taskTypes)
        {
            all.AddSingleton(typeof(IFrostingTask), type);
        }

        foreach (var service in services)
        {
            ((ICollection<ServiceDescriptor>)all).Add(service);
        }

        return all;
    }

    private static int RunBuild(IServiceProvider provider, HostOptions options, ICakeLog log)
    {
        IFrostingContext context;
        ICakeEngine engine;
        try
        {
            SetWorkingDirectory(provider, options);

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
            return Failed;
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
        catch (Exception exception)
        {
            return Fail(log, exception);
        }
    }

    private static void SetWorkingDirectory(IServiceProvider provider, HostOptions options)
    {
        var environment = provider.GetRequiredService<ICakeEnvironment>();
        var fileSystem = provider.GetRequiredService<IFileSystem>();
        var requested = options.WorkingDirectory is { } given ? new DirectoryPath(given) : provider.GetService<WorkingDirectory>()?.Path;
        if (requested is null)
        {
            return;
        }

        var directory = requested.MakeAbsolute(environment);
        if (!fileSystem.Exist(directory))
        {
            throw new FrostingException($"The working directory '{directory.FullPath}' does not exist "
                + "(--working / UseWorkingDirectory): give an existing directory.");
        }

        environment.WorkingDirectory = directory;
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

    /// <summary>Reports a failure plainly (the stack trace only at diagnostic verbosity).</summary>
    private static int Fail(ICakeLog log, Exception exception)
    {
        ExceptionLogger.LogException(log, Unwrap(exception));
        return Failed;
    }

    /// <summary>Strips the wrappers the engine, DI and async plumbing put around the real failure, for the message.</summary>
    internal static Exception Unwrap(Exception exception)
    {
        while (true)
        {
            switch (exception)
            {
                case AggregateException { InnerExceptions.Count: 1 } aggregate:
                    exception = aggregate.InnerExceptions[0];
                    continue;
                case TargetInvocationException { InnerException: { } inner }:
                    exception = inner;
                    continue;
                // Cake's own exceptions around another one (e.g. the engine's CakeReportException) are only carriers.
                case { InnerException: { } inner } when exception.GetType().Assembly == typeof(CakeException).Assembly:
                    exception = inner;
                    continue;
                default:
                    return exception;
            }
        }
    }
}
