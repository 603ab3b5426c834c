using Build.Deployment.Health;
using Build.Deployment.Reports;
using Outcome = Build.Deployment.Reports.Outcome;

namespace Build.Deployment;

/// <summary>
/// The health gate of the fan-out: after a switch (its lock still held), each server is checked; an unhealthy one is
/// switched back (with <c>--switch=together</c>, every switched server is), the new release marked bad, and the release
/// it went back to checked in turn; only then is the lock released.
/// </summary>
public sealed partial class FanOut
{
    private async Task GateAsync(IReadOnlyList<ServerWork> switched, bool together, CancellationToken cancellationToken)
    {
        var gate = health!;
        var checks = await Task.WhenAll(switched.Select(async w => (Work: w, Result: await CheckAsync(w, w.Switched!.Value.NewRelease, cancellationToken))));
        foreach (var (w, result) in checks)
        {
            w.Report.Healthy = result.Healthy;
            w.Report.Health = result.Detail;
        }
        var unhealthy = checks.Where(c => !c.Result.Healthy).Select(c => c.Work.Target.Name).ToList();
        if (unhealthy.Count == 0 || !gate.SwitchesBack)
        {
            foreach (var (w, result) in checks.Where(c => !c.Result.Healthy))
                Fail(w, $"unhealthy: {result.Detail}; kept (--on-unhealthy=keep)");
            await Task.WhenAll(switched.Select(w => ReleaseLockAsync(w, cancellationToken)));
            return;
        }
        var back = together ? checks : checks.Where(c => !c.Result.Healthy).ToArray();
        var others = $"switched back: {string.Join(", ", unhealthy)} {(unhealthy.Count == 1 ? "is" : "are")} unhealthy (--switch=together)";
        await Task.WhenAll(back.Select(c => SwitchBackUnhealthyAsync(c.Work, c.Result.Healthy ? others : $"unhealthy: {c.Result.Detail}", cancellationToken)));
    }

    private async Task<HealthResult> CheckAsync(ServerWork w, string releaseId, CancellationToken cancellationToken)
    {
        progress.Phase(w.Target.Name, "health", $"waiting for {releaseId}");
        var result = await health!.CheckAsync(w.Target, releaseId, cancellationToken);
        progress.Phase(w.Target.Name, result.Healthy ? "healthy" : "unhealthy", result.Detail);
        return result;
    }

    /// <summary>
    /// Back to the release served before, the new one marked bad, under the lock still held; then that release's check
    /// decides between switched-back and failed. A server that served none before is left without current.
    /// </summary>
    private async Task SwitchBackUnhealthyAsync(ServerWork w, string reason, CancellationToken cancellationToken)
    {
        var (from, to) = w.Switched!.Value;
        try
        {
            await Attempts(w, async token =>
            {
                var session = await ConnectAsync(w, token);
                w.Locking();
                progress.Phase(w.Target.Name, "switch back", $"current -> {to ?? "none"}");
                await session.SwitchBackAsync(from, to, reason, token, markBad: true, holdLock: true);
            }, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var error = $"{reason}, but switching back failed: {ServerText.Clean(Retries.Describe(e), 1000)}; it serves {from}";
            Fail(w, error, (e as Release.ReleaseException)?.Kind);
            w.Report.ReleaseId = from;
            await CleanUpAsync(w, error);
            return;
        }
        w.Report.ReleaseId = to;
        if (to is null)
        {
            Fail(w, $"{reason}; switched back to no release (it served none before), {from} marked bad");
        }
        else
        {
            var previous = await CheckAsync(w, to, cancellationToken);
            if (previous.Healthy)
            {
                w.Report.Outcome = Outcome.SwitchedBack;
                w.Report.Error = $"{reason}; switched back to {to} (healthy), {from} marked bad";
                progress.Phase(w.Target.Name, "switched back", $"{from} -> {to}");
            }
            else
            {
                Fail(w, $"unhealthy, and the previous release is unhealthy too: {reason}; switched back to {to}: {previous.Detail}");
            }
        }
        await ReleaseLockAsync(w, cancellationToken);
    }

    /// <summary>Rollback: the release put back must pass the check; if not, the server is reported failed (it stays there).</summary>
    private async Task CheckRollbackAsync(ServerWork w, string to, CancellationToken cancellationToken)
    {
        var result = await CheckAsync(w, to, cancellationToken);
        w.Report.Healthy = result.Healthy;
        w.Report.Health = result.Detail;
        if (!result.Healthy) Fail(w, $"rolled back to {to}, but it is unhealthy: {result.Detail}");
        await ReleaseLockAsync(w, cancellationToken);
    }

    /// <summary>Ends the lock held over the check; bounded. If it fails, the next run of this job re-takes it, another breaks it when stale.</summary>
    private async Task ReleaseLockAsync(ServerWork w, CancellationToken cancellationToken)
    {
        if (!w.MayHoldLock) return;
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await Attempts(w, async token => await (await ConnectAsync(w, token)).ReleaseLockAsync(token), bound.Token);
            w.Finished();
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            progress.Phase(w.Target.Name, "warning", $"could not release the deploy lock: {ServerText.Clean(Retries.Describe(e), 300)}");
        }
    }
}
