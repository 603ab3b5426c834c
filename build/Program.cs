using Build;
using Build.Deployment;
using Build.Deployment.Ssh;
using Build.Output;
using Build.Settings;
using Cake.Frosting;
using Microsoft.Extensions.DependencyInjection;

// No ANSI colours in a pipe or a CI log other than GitLab's, unless FORCE_COLOR; NO_COLOR always wins.
Colours.Apply(Environment.GetEnvironmentVariable, Console.IsOutputRedirected, Environment.SetEnvironmentVariable);

// Every line the pipeline writes passes through the redactor, from the first task on.
var redactor = Redactor.FromEnvironment(Environment.GetEnvironmentVariable);
Console.SetOut(new RedactingWriter(Console.Out, redactor));
Console.SetError(new RedactingWriter(Console.Error, redactor));

// Signals and exit codes are the pipeline's own, not the host's: Cake.Frosting has neither.
// Caught from here on, so that even a signal during start-up ends in 130/143.
using var interruption = Interruption.ForProcess();
interruption.Register();
var outcome = new RunOutcome();

// While the host starts (on the spare core): the SSH connections, when the command line names the servers, and
// the first connect's one-time set-up.
using var startupConnections = StartupConnections.Start(args, Directory.GetCurrentDirectory(), interruption.Token);
ConnectWarmUp.StartFor(args, startupConnections.Started);

var result = CakeHost.Create()
    .UseContext<BuildContext>()
    .UseLifetime<BuildLifetime>()
    .UseTaskLifetime<Build.GitLab.GitLabSections>()
    .ConfigureServices(services =>
    {
        services.AddSingleton(redactor);
        services.AddSingleton(interruption);
        services.AddSingleton(outcome);
        services.AddSingleton(startupConnections);
    })
    .Run(args);

if (SettingsHelp.Asked(args)) Console.WriteLine(SettingsHelp.Text);

var code = outcome.ExitCode(result, interruption.Received);
if (interruption.Received is { } signal)
    Console.Error.WriteLine($"Interrupted by {signal}; the teardown ran. Exit code {code}.");
return code;
