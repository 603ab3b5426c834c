using Build.Sandbox;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("SandboxServers")]
[TaskDescription("Starts the local sandbox's two servers (sshd + nginx each, under .sandbox/), or reuses the running ones")]
public sealed class SandboxServersTask : AsyncFrostingTask<BuildContext>
{
    public override Task RunAsync(BuildContext context) => new SandboxTargets(context).StartServersAsync();
}
