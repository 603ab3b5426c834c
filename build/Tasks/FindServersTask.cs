using Build.Tailnet;
using Build.Tailnet.Policy;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("FindServers")]
[TaskDescription("Lists the deploy targets: tailnet peers with the deploy tags (or --hosts), narrowed by --server")]
[IsDependentOn(typeof(JoinTailnetTask))]
public sealed class FindServersTask : AsyncFrostingTask<BuildContext>
{
    public override async Task RunAsync(BuildContext context)
    {
        var session = context.Tailnet ?? throw new InvalidOperationException("JoinTailnet did not run.");
        context.Servers = await session.FindServersAsync(context.CancellationToken);
        context.Log.Info(ServerTable.Format(context.Servers, onlineChecked: context.Settings.Hosts.Count == 0));
        foreach (var disagreement in PolicyTargets.Disagreements(context.Policy.File, context.Settings, context.Servers))
            context.Warning("FindServers: {0}", disagreement);
    }
}
