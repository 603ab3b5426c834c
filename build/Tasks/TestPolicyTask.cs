using Build.Settings;
using Build.Tailnet.Policy;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("TestPolicy")]
[TaskDescription("Sends the tailnet policy file to Tailscale's validate endpoint (its tests run there); without TS_POLICY_OAUTH_SECRET says so and succeeds")]
[IsDependentOn(typeof(CheckPolicyTask))]
[UsesSettings(typeof(PolicySettings))]
public sealed class TestPolicyTask : AsyncFrostingTask<BuildContext>
{
    public override async Task RunAsync(BuildContext context)
    {
        var policy = context.Policy;
        var credentials = policy.Secret is null ? null
            : policy.Credentials(out var problem) ?? throw new SettingsException("TestPolicy: " + problem);
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var service = new PolicyService(http, TimeProvider.System,
            new PolicyApiOptions { Attempts = policy.Retry.Attempts, RetryDelay = policy.Retry.Delay },
            line => context.Information("{0}", line), line => context.Warning("{0}", line));
        await service.TestAsync(PolicyDocument.Read(policy.File), await File.ReadAllTextAsync(policy.File, context.CancellationToken), credentials, context.CancellationToken);
    }
}
