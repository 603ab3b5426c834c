using Build.Settings;
using Build.Tailnet;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("JoinTailnet")]
[TaskDescription("Joins the tailnet as an ephemeral node (or use this machine's tailscaled); left in the teardown")]
[UsesSettings(typeof(TailnetSettings))]
public sealed class JoinTailnetTask : AsyncFrostingTask<BuildContext>
{
    public override async Task RunAsync(BuildContext context)
    {
        // Registered before starting, so the teardown also leaves a half-made join.
        var session = new TailnetSession(
            context.Tailnet, context.Processes, context.Redactor, context.Log, context.Artifacts, Environment.GetEnvironmentVariable);
        context.TailnetSession = session;
        await session.StartAsync(context.CancellationToken);
        context.Socks5Proxy = session.Socks5Proxy;
    }
}
