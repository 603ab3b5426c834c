using System.Diagnostics.CodeAnalysis;
using Cake.Core.IO;

namespace Cake.Frosting;

/// <summary>The host's builders, as in Cake.Frosting: each registers services through <see cref="CakeHost.ConfigureServices"/>.</summary>
public static class CakeHostExtensions
{
    public static CakeHost UseStartup<TStartup>(this CakeHost host)
        where TStartup : IFrostingStartup, new()
    {
        ArgumentNullException.ThrowIfNull(host);
        return host.ConfigureServices(services => new TStartup().Configure(services));
    }

    public static CakeHost UseContext<[DynamicallyAccessedMembers(ServiceCollectionExtensions.Ctors)] TContext>(this CakeHost host)
        where TContext : class, IFrostingContext
        => host.ConfigureServices(services => services.UseContext<TContext>());

    public static CakeHost UseLifetime<[DynamicallyAccessedMembers(ServiceCollectionExtensions.Ctors)] TLifetime>(this CakeHost host)
        where TLifetime : class, IFrostingLifetime
        => host.ConfigureServices(services => services.UseLifetime<TLifetime>());

    public static CakeHost UseSetup<[DynamicallyAccessedMembers(ServiceCollectionExtensions.Ctors)] TSetup>(this CakeHost host)
        where TSetup : class, IFrostingSetup
        => host.ConfigureServices(services => services.UseSetup<TSetup>());

    public static CakeHost UseTeardown<[DynamicallyAccessedMembers(ServiceCollectionExtensions.Ctors)] TTeardown>(this CakeHost host)
        where TTeardown : class, IFrostingTeardown
        => host.ConfigureServices(services => services.UseTeardown<TTeardown>());

    public static CakeHost UseTaskLifetime<[DynamicallyAccessedMembers(ServiceCollectionExtensions.Ctors)] TLifetime>(this CakeHost host)
        where TLifetime : class, IFrostingTaskLifetime
        => host.ConfigureServices(services => services.UseTaskLifetime<TLifetime>());

    public static CakeHost UseTaskSetup<[DynamicallyAccessedMembers(ServiceCollectionExtensions.Ctors)] TSetup>(this CakeHost host)
        where TSetup : class, IFrostingTaskSetup
        => host.ConfigureServices(services => services.UseTaskSetup<TSetup>());

    public static CakeHost UseTaskTeardown<[DynamicallyAccessedMembers(ServiceCollectionExtensions.Ctors)] TTeardown>(this CakeHost host)
        where TTeardown : class, IFrostingTaskTeardown
        => host.ConfigureServices(services => services.UseTaskTeardown<TTeardown>());

    public static CakeHost UseWorkingDirectory(this CakeHost host, DirectoryPath path)
        => host.ConfigureServices(services => services.UseWorkingDirectory(path));

    public static CakeHost UseCakeSetting(this CakeHost host, string key, string value)
        => host.ConfigureServices(services => services.UseCakeSetting(key, value));
}
