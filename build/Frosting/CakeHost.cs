using System.Reflection;
using Cake.Frosting.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Cake.Frosting;

/// <summary>
/// Configures and runs a Frosting build: tasks from the entry assembly (and <see cref="AddAssembly"/>),
/// built through dependency injection, run by Cake's engine. The <c>Use...</c> builders are extension
/// methods (<see cref="CakeHostExtensions"/>), as in Cake.Frosting. See README.md for what differs.
/// </summary>
public sealed class CakeHost
{
    private readonly ServiceCollection _services = new();
    private readonly List<Assembly> _assemblies = [];

    public CakeHost()
    {
        if (Assembly.GetEntryAssembly() is { } entry)
        {
            _assemblies.Add(entry);
        }
    }

    public static CakeHost Create() => new();

    public CakeHost AddAssembly(Assembly assembly)
    {
        _assemblies.Add(assembly);
        return this;
    }

    public CakeHost ConfigureServices(Action<IServiceCollection> services)
    {
        services(_services);
        return this;
    }

    /// <summary>Runs the targets the command line names: 0 on success, -1 on any failure, as Cake.Frosting.</summary>
    public int Run(IEnumerable<string> args) => new HostRunner(_services, _assemblies).Run(args.ToList());
}
