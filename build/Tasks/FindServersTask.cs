using Build.Settings;
using Build.Tailnet;
using Build.Tailnet.Policy;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("FindServers")]
[TaskDescription("Lists the deploy targets: tailnet peers with the deploy tags (or --hosts), narrowed by --server")]
[IsDependentOn(typeof(JoinTailnetTask))]
[UsesSettings(typeof(ServerSelection), typeof(TailnetSettings), typeof(SshSettings), typeof(PolicySettings))]
public sealed class FindServersTask : AsyncFrostingTask<BuildContext>
{
    public override async Task RunAsync(BuildContext context)
    {
        var selection = context.Selection;
        // --hosts names the servers: the tailnet is not asked, whatever mode JoinTailnet chose.
        context.Servers = await selection.FindAsync(context.TailnetSession, context.CancellationToken);
        context.Log.Info(ServerTable.Format(context.Servers, onlineChecked: !selection.UsesHosts));
        // The task that follows connects to every server: the handshakes start now, beside the rest of the start.
        if (context.ConnectsFollow) new Deployment.Deployer(context).ConnectEarly();
        foreach (var disagreement in PolicyTargets.Disagreements(context.Policy.File, context.Tailnet.Tags, context.Ssh.Port, context.Servers))
            context.Warning("FindServers: {0}", disagreement);
    }
}
