using Build.Sandbox;
using Cake.Frosting;

namespace Build.Tasks;

/// <summary>The servers start first, so that Deploy (through JoinTailnet and FindServers) reads the sandbox's settings.</summary>
[TaskName("Sandbox")]
[TaskDescription("Builds the blog and deploys it to two local servers (real sshd + nginx under .sandbox/) that keep running; prints their URLs")]
[IsDependentOn(typeof(SandboxServersTask))]
[IsDependentOn(typeof(DeployTask))]
public sealed class SandboxTask : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context) => new SandboxTargets(context).PrintSummary();
}
