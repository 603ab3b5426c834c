using Build;
using Build.Output;
using Build.Settings;
using Cake.Frosting;
using Microsoft.Extensions.DependencyInjection;

// The first SSH connect's one-time set-up, on the spare core while the host starts.
Build.Deployment.Ssh.ConnectWarmUp.StartFor(args);

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

var result = CakeHost.Create()
    .UseContext<BuildContext>()
    .UseLifetime<BuildLifetime>()
    .UseTaskLifetime<Build.GitLab.GitLabSections>()
    .ConfigureServices(services =>
    {
        services.AddSingleton(redactor);
        services.AddSingleton(interruption);
        services.AddSingleton(outcome);
    })
    .Run(args);

if (SettingsHelp.Asked(args)) Console.WriteLine(SettingsHelp.Text);

var code = outcome.ExitCode(result, interruption.Received);
if (interruption.Received is { } signal)
    Console.Error.WriteLine($"Interrupted by {signal}; the teardown ran. Exit code {code}.");
return code;
