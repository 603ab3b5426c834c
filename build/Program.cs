using System.Runtime.InteropServices;
using Build;
using Build.Output;
using Cake.Frosting;
using Microsoft.Extensions.DependencyInjection;

// Every line the pipeline writes passes through the redactor, from the first task on.
var redactor = Redactor.FromEnvironment(Environment.GetEnvironmentVariable);
Console.SetOut(new RedactingWriter(Console.Out, redactor));
Console.SetError(new RedactingWriter(Console.Error, redactor));

return CakeHost.Create()
    .UseContext<BuildContext>()
    .UseLifetime<BuildLifetime>()
    .UseTaskLifetime<Build.GitLab.GitLabSections>()
    .ConfigureServices(services =>
    {
        services.AddSingleton(redactor);
        services.AddSingleton<Interruption>();
        services.AddSingleton<IObserver<PosixSignal>>(provider => provider.GetRequiredService<Interruption>());
    })
    .Run(args);
