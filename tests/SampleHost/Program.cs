using Cake.Frosting;
using SampleHost;

return CakeHost.Create()
    .UseContext<SampleContext>()
    .UseLifetime<SampleLifetime>()
    .UseTaskLifetime<SampleTaskLifetime>()
    .UseStartup<SampleStartup>()
    .UseCakeSetting("sample_setting", "from UseCakeSetting")
    .Run(args);
