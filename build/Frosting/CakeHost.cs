using System.Reflection;
using Cake.Core.IO;
using Cake.Frosting.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Cake.Frosting;

/// <summary>
/// Configures and runs a Frosting build: tasks from the entry assembly (and <see cref="AddAssembly"/>),
/// built through dependency injection, run by Cake's engine. See README.md for what it adds to Frosting.
/// </summary>
public sealed class CakeHost
{
    private readonly List<Action<IServiceCollection>> _configure = [];
    private readonly List<Assembly> _assemblies = [];
    private DirectoryPath? _workingDirectory;

    public static CakeHost Create() => new();

    /// <summary>The typed context, built through DI; also resolvable as itself (one instance).</summary>
    public CakeHost UseContext<TContext>() where TContext : class, IFrostingContext
        => ConfigureServices(s =>
        {
            s.AddSingleton<TContext>();
            s.AddSingleton<IFrostingContext>(provider => provider.GetRequiredService<TContext>());
        });

    public CakeHost UseLifetime<TLifetime>() where TLifetime : class, IFrostingLifetime
        => ConfigureServices(s => s.AddSingleton<IFrostingLifetime, TLifetime>());

    public CakeHost UseTaskLifetime<TLifetime>() where TLifetime : class, IFrostingTaskLifetime
        => ConfigureServices(s => s.AddSingleton<IFrostingTaskLifetime, TLifetime>());

    public CakeHost ConfigureServices(Action<IServiceCollection> configure)
    {
        _configure.Add(configure);
        return this;
    }

    public CakeHost AddAssembly(Assembly assembly)
    {
        _assemblies.Add(assembly);
        return this;
    }

    public CakeHost UseWorkingDirectory(DirectoryPath path)
    {
        _workingDirectory = path;
        return this;
    }

    /// <summary>Runs the targets the command line names and returns the process exit code.</summary>
    public int Run(IEnumerable<string> args)
    {
        var assemblies = new List<Assembly>();
        if (Assembly.GetEntryAssembly() is { } entry)
        {
            assemblies.Add(entry);
        }

        assemblies.AddRange(_assemblies);
        return new HostRunner(_configure, assemblies, _workingDirectory).Run(args.ToList());
    }
}
