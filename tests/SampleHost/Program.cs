using System.Runtime.InteropServices;
using Cake.Frosting;
using Microsoft.Extensions.DependencyInjection;
using SampleHost;

return CakeHost.Create()
    .UseContext<SampleContext>()
    .UseLifetime<SampleLifetime>()
    .UseTaskLifetime<SampleTaskLifetime>()
    .ConfigureServices(services =>
    {
        services.AddSingleton<StopSignal>();
        services.AddSingleton<IObserver<PosixSignal>>(provider => provider.GetRequiredService<StopSignal>());
    })
    .Run(args);
