using Build.Deployment;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Deploy")]
[TaskDescription("Uploads the site to every selected server in parallel and switches each atomically (--plan: only show the delta)")]
[IsDependentOn(typeof(BuildTask))]
[IsDependentOn(typeof(FindServersTask))]
public sealed class DeployTask : AsyncFrostingTask<BuildContext>
{
    public override Task RunAsync(BuildContext context) => new Deployer(context).DeployAsync();
}
