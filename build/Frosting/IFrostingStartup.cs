using Microsoft.Extensions.DependencyInjection;

namespace Cake.Frosting;

/// <summary>Configures the services of a host (<see cref="CakeHostExtensions.UseStartup{TStartup}"/>).</summary>
public interface IFrostingStartup
{
    void Configure(IServiceCollection services);
}
