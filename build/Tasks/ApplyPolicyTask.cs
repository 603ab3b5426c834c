using Build.Settings;
using Build.Tailnet.Policy;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("ApplyPolicy")]
[TaskDescription("Applies the tailnet policy file (If-Match the ETag read); refuses when the tailnet's policy was edited outside the repository, unless --policy-force")]
[IsDependentOn(typeof(CheckPolicyTask))]
[UsesSettings(typeof(PolicySettings))]
public sealed class ApplyPolicyTask : AsyncFrostingTask<BuildContext>
{
    public override async Task RunAsync(BuildContext context)
    {
        var policy = context.Policy;
        // No fallback to the deploy's client: that one must not be able to rewrite the policy.
        var credentials = policy.Credentials(out var problem) ?? throw new SettingsException("ApplyPolicy: " + problem);
        var (versions, historyProblem) = await PolicyHistory.ReadAsync(context.Processes, context.Root, policy.File, context.CancellationToken);
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var service = new PolicyService(http, TimeProvider.System,
            new PolicyApiOptions { Attempts = policy.Retry.Attempts, RetryDelay = policy.Retry.Delay },
            line => context.Information("{0}", line), line => context.Warning("{0}", line));
        await service.ApplyAsync(PolicyDocument.Read(policy.File), await File.ReadAllTextAsync(policy.File, context.CancellationToken),
            versions, historyProblem, policy.Force, credentials, context.CancellationToken);
    }
}
