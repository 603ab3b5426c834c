using Build.Sandbox;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("SandboxStop")]
[TaskDescription("Stops every process the local sandbox started, by pid (stale pids are detected; nothing running is fine)")]
public sealed class SandboxStopTask : AsyncFrostingTask<BuildContext>
{
    public override Task RunAsync(BuildContext context) => new SandboxTargets(context).StopAsync();
}
