using Build.Deployment.Health;
using Build.Deployment;
using Build.Settings;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Rollback")]
[TaskDescription("Switches each selected server back to its previous good release (or --release) and marks the one it left as bad")]
[IsDependentOn(typeof(FindServersTask))]
[UsesSettings(typeof(DeploySettings), typeof(SshSettings), typeof(HealthSettings))]
public sealed class RollbackTask : AsyncFrostingTask<BuildContext>
{
    public override Task RunAsync(BuildContext context) => new Deployer(context).RollbackAsync();
}
