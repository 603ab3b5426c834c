using Build.Deployment.Health;
using Build.Deployment;
using Build.Settings;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Unlock")]
[TaskDescription("Removes a deploy lock left on the selected servers, after printing its owner")]
[IsDependentOn(typeof(FindServersTask))]
[UsesSettings(typeof(DeploySettings), typeof(SshSettings), typeof(HealthSettings))]
public sealed class UnlockTask : AsyncFrostingTask<BuildContext>
{
    public override Task RunAsync(BuildContext context) => new Deployer(context).UnlockAsync();
}
