using Build.Deployment.Health;
using Build.Deployment.Progress;
using Build.Deployment.Release;
using Build.Deployment.Reports;

namespace Build.Deployment;

/// <summary>
/// The fan-out's part of the health check: which servers a failed check sends back (<c>--switch=together</c>: every
/// switched one; independent: that one) and the check of a rollback.
/// </summary>
public sealed partial class FanOut
{
    /// <summary>
    /// After the switches: every switched server checked at once (its lock still held); then finished, kept, or
    /// switched back. <paramref name="scheduled"/>: the switch-backs take slots (not when called from inside one).
    /// </summary>
    private async Task GateAsync(IReadOnlyList<ServerDeploy> switched, bool together, bool scheduled, CancellationToken cancellationToken)
    {
        (ServerDeploy Deploy, HealthResult Result)[] checks;
        try
        {
            checks = await Task.WhenAll(switched.Select(async d => (d, await d.CheckHealthAsync(cancellationToken))));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Task.WhenAll(switched.Select(d => d.CheckCancelledAsync()));
            return;
        }
        var unhealthy = checks.Where(c => !c.Result.Healthy).Select(c => c.Deploy.Name).ToList();
        if (unhealthy.Count == 0 || !health!.SwitchesBack)
        {
            await Task.WhenAll(checks.Select(c => c.Result.Healthy ? c.Deploy.HealthyAsync() : c.Deploy.KeepUnhealthyAsync(c.Result)));
            return;
        }
        var others = $"switched back: {string.Join(", ", unhealthy)} {(unhealthy.Count == 1 ? "is" : "are")} unhealthy (--switch=together)";
        await Task.WhenAll(checks.Select(c =>
        {
            if (c.Result.Healthy && !together) return c.Deploy.HealthyAsync();
            var reason = c.Result.Healthy ? others : $"unhealthy: {c.Result.Detail}";
            return scheduled
                ? Scheduled(c.Deploy, ct => c.Deploy.SwitchBackUnhealthyAsync(reason, ct), cancellationToken)
                : c.Deploy.SwitchBackUnhealthyAsync(reason, cancellationToken);
        }));
    }

    /// <summary>Rollback: the release put back must pass the check (under the lock the rollback kept); if not, the server is reported failed, staying there.</summary>
    private async Task CheckRollbackAsync(ServerConnection server, ServerReport report, string to, CancellationToken cancellationToken)
    {
        try
        {
            progress.Phase(server.Target.Name, DeployPhase.Health, $"waiting for {to}");
            var result = await health!.CheckAsync(server.Target, to, cancellationToken);
            progress.Phase(server.Target.Name, result.Healthy ? DeployPhase.Healthy : DeployPhase.Unhealthy, result.Detail);
            report.Healthy = result.Healthy;
            report.Health = result.Detail;
            if (!result.Healthy) Fail(server, report, $"rolled back to {to}, but it is unhealthy: {result.Detail}");
        }
        finally
        {
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await (await server.OpenAsync(bound.Token)).ReleaseLockAsync(bound.Token);
            }
            catch (Exception)
            {
                // Another run sees the lock as stale after --lock-timeout; the rollback itself is what is reported.
                server.Drop();
            }
        }
    }
}
