using System.Diagnostics.CodeAnalysis;
using Cake.Core.IO;
using Cake.Frosting.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Cake.Frosting;

/// <summary>The registrations behind <see cref="CakeHostExtensions"/>, as in Cake.Frosting.</summary>
public static class ServiceCollectionExtensions
{
    // DI builds these types through their constructors: kept in a trimmed (native) program.
    internal const DynamicallyAccessedMemberTypes Ctors = DynamicallyAccessedMemberTypes.PublicConstructors;

    /// <summary>The typed context, built through DI; registered as <see cref="IFrostingContext"/> only, as in the package.</summary>
    public static IServiceCollection UseContext<[DynamicallyAccessedMembers(Ctors)] TContext>(this IServiceCollection services)
        where TContext : class, IFrostingContext
        => services.AddSingleton<IFrostingContext, TContext>();

    public static IServiceCollection UseLifetime<[DynamicallyAccessedMembers(Ctors)] TLifetime>(this IServiceCollection services)
        where TLifetime : class, IFrostingLifetime
    {
        services.AddSingleton<IFrostingLifetime, TLifetime>();
        services.AddSingleton<IFrostingSetup>(s => s.GetRequiredService<IFrostingLifetime>());
        services.AddSingleton<IFrostingTeardown>(s => s.GetRequiredService<IFrostingLifetime>());
        return services;
    }

    public static IServiceCollection UseSetup<[DynamicallyAccessedMembers(Ctors)] TSetup>(this IServiceCollection services)
        where TSetup : class, IFrostingSetup
        => services.AddSingleton<IFrostingSetup, TSetup>();

    public static IServiceCollection UseTeardown<[DynamicallyAccessedMembers(Ctors)] TTeardown>(this IServiceCollection services)
        where TTeardown : class, IFrostingTeardown
        => services.AddSingleton<IFrostingTeardown, TTeardown>();

    public static IServiceCollection UseTaskLifetime<[DynamicallyAccessedMembers(Ctors)] TLifetime>(this IServiceCollection services)
        where TLifetime : class, IFrostingTaskLifetime
    {
        services.AddSingleton<IFrostingTaskLifetime, TLifetime>();
        services.AddSingleton<IFrostingTaskSetup>(s => s.GetRequiredService<IFrostingTaskLifetime>());
        services.AddSingleton<IFrostingTaskTeardown>(s => s.GetRequiredService<IFrostingTaskLifetime>());
        return services;
    }

    public static IServiceCollection UseTaskSetup<[DynamicallyAccessedMembers(Ctors)] TSetup>(this IServiceCollection services)
        where TSetup : class, IFrostingTaskSetup
        => services.AddSingleton<IFrostingTaskSetup, TSetup>();

    public static IServiceCollection UseTaskTeardown<[DynamicallyAccessedMembers(Ctors)] TTeardown>(this IServiceCollection services)
        where TTeardown : class, IFrostingTaskTeardown
        => services.AddSingleton<IFrostingTaskTeardown, TTeardown>();

    public static IServiceCollection UseWorkingDirectory(this IServiceCollection services, DirectoryPath path)
        => services.AddSingleton(new WorkingDirectory(path));

    /// <summary>A Cake configuration value (as in cake.config); the command line and cake.config override it.</summary>
    public static IServiceCollection UseCakeSetting(this IServiceCollection services, string key, string value)
        => services.AddSingleton(new CakeSettingValue(key, value));
}
