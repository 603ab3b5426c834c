using Build.Deployment;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Unlock")]
[TaskDescription("Removes a deploy lock left on the selected servers, after printing its owner")]
[IsDependentOn(typeof(FindServersTask))]
public sealed class UnlockTask : AsyncFrostingTask<BuildContext>
{
    public override Task RunAsync(BuildContext context) => new Deployer(context).UnlockAsync();
}
