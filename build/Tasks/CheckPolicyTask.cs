using Build.Settings;
using Build.Tailnet;
using Build.Tailnet.Policy;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("CheckPolicy")]
[TaskDescription("Checks the tailnet policy file offline: HuJSON, tag owners, the CI tags reach the deploy tags' SSH port and nothing more, test coverage, the policy's own tests")]
[UsesSettings(typeof(PolicySettings), typeof(TailnetSettings), typeof(ServerSelection), typeof(SshSettings))]
public sealed class CheckPolicyTask : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context) =>
        PolicyTargets.Check(context.Policy, context.Tailnet.Tags, context.Selection.Tags, context.Ssh.Port, line => context.Information("{0}", line), line => context.Warning("{0}", line));
}
