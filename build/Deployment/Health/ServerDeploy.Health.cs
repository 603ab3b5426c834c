using Build.Deployment.Health;
using Build.Deployment.Progress;
using Build.Deployment.Release;

namespace Build.Deployment;

/// <summary>
/// The health check's steps of one server's deploy. With a health check the switch keeps the lock
/// (<see cref="HoldsLockForCheck"/>), and every way out of <see cref="ServerStage.Switched"/> here releases it:
/// healthy (finished), unhealthy and kept (failed), or switched back with the new release marked bad, the release it
/// went back to checked in turn (switched back, or failed when that one is unhealthy too).
/// </summary>
public sealed partial class ServerDeploy
{
    /// <summary>Whether the switch keeps the lock for a health check that follows.</summary>
    private bool HoldsLockForCheck => _setup.Health is not null;

    /// <summary>Checks the switched release (the lock still held); records the result on the report line.</summary>
    public async Task<HealthResult> CheckHealthAsync(CancellationToken cancellationToken)
    {
        Expect(ServerStage.Switched);
        var result = await CheckAsync(_candidate!.ReleaseId, cancellationToken);
        Report.Healthy = result.Healthy;
        Report.Health = result.Detail;
        return result;
    }

    /// <summary>Switched → finished: healthy (or kept), the lock released.</summary>
    public async Task HealthyAsync()
    {
        Expect(ServerStage.Switched);
        await BestEffortAsync((s, ct) => s.ReleaseLockAsync(ct));
        MoveTo(ServerStage.Finished);
    }

    /// <summary>Switched → failed, kept on the new release (<c>--on-unhealthy=keep</c>): only reported; the lock released.</summary>
    public async Task KeepUnhealthyAsync(HealthResult result)
    {
        Expect(ServerStage.Switched);
        await BestEffortAsync((s, ct) => s.ReleaseLockAsync(ct));
        Report.Error = $"unhealthy: {result.Detail}; kept (--on-unhealthy=keep)";
        MoveTo(ServerStage.Failed, DeployPhase.Failed, Report.Error);
    }

    /// <summary>The run was cancelled during the check: failed, serving the new release unchecked; the lock released.</summary>
    public async Task CheckCancelledAsync()
    {
        if (Stage != ServerStage.Switched) return;
        await BestEffortAsync((s, ct) => s.ReleaseLockAsync(ct));
        Report.Error = $"cancelled during the health check; it serves {_candidate!.ReleaseId}, unchecked";
        MoveTo(ServerStage.Failed, DeployPhase.Failed, Report.Error);
    }

    /// <summary>
    /// Switched → back to <see cref="Previous"/>, the new release marked bad, under the lock still held; then that
    /// release is checked: switched back when it passes, failed when it does not (or when there was none before).
    /// </summary>
    public async Task SwitchBackUnhealthyAsync(string reason, CancellationToken cancellationToken)
    {
        var from = CandidateId!.Value;
        if (!await TrySwitchBackAsync(reason, markBad: true, holdLock: true, cancellationToken)) return;
        Report.ReleaseId = Previous;
        if (Previous is null)
        {
            await BestEffortAsync((s, ct) => s.ReleaseLockAsync(ct));
            Report.Error = $"{reason}; switched back to no release (it served none before), {from} marked bad";
            MoveTo(ServerStage.Failed, DeployPhase.Failed, Report.Error);
            return;
        }
        HealthResult previous;
        try
        {
            previous = await CheckAsync(Previous, cancellationToken);
        }
        finally
        {
            await BestEffortAsync((s, ct) => s.ReleaseLockAsync(ct));
        }
        if (previous.Healthy)
        {
            Report.Error = $"{reason}; switched back to {Previous} (healthy), {from} marked bad";
            MoveTo(ServerStage.SwitchedBack, DeployPhase.SwitchedBack, $"{from} -> {Previous}");
        }
        else
        {
            Report.Error = $"unhealthy, and the previous release is unhealthy too: {reason}; switched back to {Previous}, {from} marked bad: {previous.Detail}";
            MoveTo(ServerStage.Failed, DeployPhase.Failed, Report.Error);
        }
    }

    /// <summary>
    /// After a switch whose reply was lost and whose retries failed: takes the lock again (on a fresh connection,
    /// bounded) while current is one of <paramref name="expected"/>, and says what current is. When the lock cannot be
    /// taken, current is read without it, and the second value says why the lock is not held (null: it is held).
    /// </summary>
    private async Task<((bool Known, string? Id) Serving, string? NotLocked)> RetakeForCheckAsync(IReadOnlyList<string?> expected)
    {
        using var bound = new CancellationTokenSource(CleanUpBound);
        try
        {
            _server.Drop();
            var session = await _server.OpenAsync(bound.Token);
            var state = await session.RetakeAsync(expected, withManifest: false, bound.Token);
            Locked(session, state);
            return ((true, state.CurrentReleaseId), null);
        }
        catch (Exception e)
        {
            var why = bound.IsCancellationRequested ? $"no lock within {CleanUpBound.TotalSeconds:0} s" : ServerText.Clean(Retries.Describe(e), 1000);
            return (await FindCurrentAsync(), why);
        }
    }

    /// <summary>Switched (reply lost) → failed: the lock could not be taken again, so the check would not run under it.</summary>
    private async Task LockLostForCheckAsync(string why)
    {
        await BestEffortAsync((s, ct) => s.ReleaseLockAsync(ct));
        Report.Error = $"the switch's reply was lost and the lock could not be taken again for the health check ({why}); it serves {_candidate!.ReleaseId}, unchecked";
        MoveTo(ServerStage.Failed, DeployPhase.Failed, Report.Error);
    }

    private async Task<HealthResult> CheckAsync(string releaseId, CancellationToken cancellationToken)
    {
        Progress.Phase(Name, DeployPhase.Health, $"waiting for {releaseId}");
        var result = await _setup.Health!.CheckAsync(_server.Target, releaseId, cancellationToken);
        Progress.Phase(Name, result.Healthy ? DeployPhase.Healthy : DeployPhase.Unhealthy, result.Detail);
        return result;
    }
}
