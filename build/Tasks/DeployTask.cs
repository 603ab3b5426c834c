using Build.Deployment.Health;
using Build.Deployment;
using Build.Settings;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Deploy")]
[TaskDescription("Uploads the site to every selected server in parallel and switches each atomically (--plan: only show the delta)")]
[IsDependentOn(typeof(BuildTask))]
[IsDependentOn(typeof(FindServersTask))]
[UsesSettings(typeof(SiteSettings), typeof(DeploySettings), typeof(SshSettings), typeof(HealthSettings))]
public sealed class DeployTask : AsyncFrostingTask<BuildContext>
{
    public override Task RunAsync(BuildContext context) => new Deployer(context).DeployAsync();
}
