using Build.Deployment.Health;
using Build.Deployment;
using Build.Settings;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Releases")]
[TaskDescription("Lists each server's releases: current, rollback target, bad ones, their commits and times, and any lock")]
[IsDependentOn(typeof(FindServersTask))]
[UsesSettings(typeof(DeploySettings), typeof(SshSettings), typeof(HealthSettings))]
public sealed class ReleasesTask : AsyncFrostingTask<BuildContext>
{
    public override Task RunAsync(BuildContext context) => new Deployer(context).ReleasesAsync();
}
