using Build.Deployment.Progress;
using Build.Deployment.Release;
using Build.Deployment.Reports;

namespace Build.Deployment;

/// <summary>Where one server's deploy stands (<see cref="ServerDeploy"/>).</summary>
public enum ServerStage
{
    /// <summary>Nothing done yet.</summary>
    Waiting,
    /// <summary>A connection is open; the lock may be ours already (its reply can be lost).</summary>
    Connected,
    /// <summary>The lock is ours and the server's state is read.</summary>
    Locked,
    /// <summary>The delta is known.</summary>
    Planned,
    /// <summary>releases/&lt;id&gt; is uploaded and verified; current is untouched.</summary>
    Staged,
    /// <summary>current points at the new release (the switch also released the lock).</summary>
    Switched,
    /// <summary>Done: switched and kept, or unchanged.</summary>
    Finished,
    /// <summary>Gave up; this run's staging removed and the lock released where the server could be reached.</summary>
    Failed,
    /// <summary>Staged but not switched (held back): the staging removed, the lock released.</summary>
    Aborted,
    /// <summary>Switched, then pointed back at the release it served before.</summary>
    SwitchedBack,
}

/// <summary>
/// One server's deploy, from connecting to its end, with every transition between <see cref="ServerStage"/>s here
/// (<see cref="MoveTo"/>), and the report line and progress kept in step with them. Its steps are what the fan-out
/// schedules (<see cref="StageAsync"/>, <see cref="SwitchAsync"/>, <see cref="HoldBackAsync"/>,
/// <see cref="SwitchBackAsync"/>, <see cref="Finish"/>); a step never throws: a failure is a transition to
/// <see cref="ServerStage.Failed"/>, after removing this run's staging and releasing the lock.
/// </summary>
public sealed partial class ServerDeploy : IDisposable
{
    private static readonly TimeSpan CleanUpBound = TimeSpan.FromSeconds(20);

    private static readonly Dictionary<ServerStage, ServerStage[]> Allowed = new()
    {
        [ServerStage.Waiting] = [ServerStage.Connected, ServerStage.Failed],
        // A retried attempt starts again on a new connection from wherever the last one stopped before the upload.
        [ServerStage.Connected] = [ServerStage.Connected, ServerStage.Locked, ServerStage.Failed],
        [ServerStage.Locked] = [ServerStage.Connected, ServerStage.Planned, ServerStage.Failed],
        [ServerStage.Planned] = [ServerStage.Connected, ServerStage.Staged, ServerStage.Finished, ServerStage.Failed],
        [ServerStage.Staged] = [ServerStage.Switched, ServerStage.Aborted, ServerStage.Failed],
        [ServerStage.Switched] = [ServerStage.Finished, ServerStage.SwitchedBack, ServerStage.Failed],
        [ServerStage.Finished] = [],
        [ServerStage.Failed] = [],
        [ServerStage.Aborted] = [],
        [ServerStage.SwitchedBack] = [],
    };

    private readonly ServerConnection _server;
    private readonly ServerSetup _setup;
    private readonly Task<ReleaseCandidate> _candidateTask;
    private ReleaseCandidate? _candidate;

    // The session whose connection took the lock last: a step on another one takes it again first.
    private ReleaseSession? _lockedOn;

    // The server lists the files edited since current was sealed when it locks, rather than the upload's seal finding them.
    private bool _listEdits;

    internal ServerDeploy(ServerConnection server, ServerReport report, ServerSetup setup, Task<ReleaseCandidate> candidate)
    {
        _server = server;
        _setup = setup;
        _candidateTask = candidate;
        Report = report;
    }

    public string Name => _server.Target.Name;

    public ServerReport Report { get; }

    public ServerStage Stage { get; private set; } = ServerStage.Waiting;

    /// <summary>The server's state as read when the lock was last taken.</summary>
    public RemoteState? Remote { get; private set; }

    public DeltaPlan? Plan { get; private set; }

    public UploadResult? Upload { get; private set; }

    /// <summary>The switch's result; null when the switch's reply was lost (the server was asked what current is).</summary>
    public SwitchResult? Switch { get; private set; }

    /// <summary>The release current before this run's switch (null: none): where a switch back goes.</summary>
    public string? Previous { get; private set; }

    /// <summary>Whether the server's part has ended (finished, failed, held back or switched back).</summary>
    public bool Ended => Allowed[Stage].Length == 0;

    private IDeployProgress Progress => _setup.Progress;

    /// <summary>
    /// Connect, lock, plan and upload: everything up to (not including) the switch, with retries. True when the server
    /// is <see cref="ServerStage.Staged"/> and waits for its switch; an unchanged server is finished here. With
    /// <paramref name="switchToo"/> (nothing waits between upload and switch) the upload switches as it ends, one round
    /// trip less, and the server is <see cref="ServerStage.Switched"/> when this returns true.
    /// </summary>
    public async Task<bool> StageAsync(CancellationToken cancellationToken, bool switchToo = false)
    {
        if (!_server.Target.Online)
        {
            await FailAsync($"{Name} is offline in the tailnet; it was not deployed to.", null);
            return false;
        }
        var switchSent = false;
        try
        {
            await _server.RetryAsync(async token =>
            {
                var session = await _server.OpenAsync(token);
                // The site's check and hash went on while connecting; a site that fails them never reaches a lock.
                var candidate = _candidate = await _candidateTask.WaitAsync(token);
                MoveTo(ServerStage.Connected);
                // Planned again, under the lock it holds, when the files edited on the server must be listed first.
                while (!await LockPlanAndUploadAsync(session, candidate, token)) MoveTo(ServerStage.Connected);
            }, cancellationToken);
        }
        catch (Exception e) when (switchSent && Stage is not (ServerStage.Failed or ServerStage.Switched))
        {
            // The upload may have switched with its reply lost: find out before saying what the server serves.
            var serving = await FindCurrentAsync();
            if (serving.Known && serving.Id == _candidate!.ReleaseId)
            {
                SwitchedByUpload($"{Previous ?? "none"} -> {_candidate.ReleaseId} (the upload's reply was lost; current is {_candidate.ReleaseId})");
                await BestEffortAsync((s, ct) => s.ReleaseLockAsync(ct));
            }
            else
            {
                await FailAsync(e, cancellationToken, serving);
            }
        }
        catch (Exception e)
        {
            await FailAsync(e, cancellationToken);
        }
        return Stage == (switchToo ? ServerStage.Switched : ServerStage.Staged);

        // Lock, plan, upload; false when the plan must be made again with the files edited on the server listed: an
        // unchanged plan is proven only then, and an upload whose seal found such files was stopped before sealing.
        async Task<bool> LockPlanAndUploadAsync(ReleaseSession session, ReleaseCandidate candidate, CancellationToken token)
        {
            Progress.Phase(Name, DeployPhase.Lock);
            // A retry on a new connection goes on only while current is where the first attempt found it (or where
            // an upload that switched, its reply lost, left it).
            IReadOnlyList<string?>? expect = Remote is not null && session != _lockedOn
                ? switchSent ? [Remote.CurrentReleaseId, candidate.ReleaseId] : [Remote.CurrentReleaseId]
                : null;
            var state = await session.PrepareDeployAsync(token, expect, switchAhead: !switchToo, walkEdits: _listEdits);
            Locked(session, state);
            if (switchSent && state.CurrentReleaseId == candidate.ReleaseId)
            {
                SwitchedByUpload($"{Previous ?? "none"} -> {candidate.ReleaseId} (the upload's reply was lost; current is {candidate.ReleaseId})");
                await BestEffortAsync((s, ct) => s.ReleaseLockAsync(ct));
                return true;
            }
            if (state.ManifestProblem is { } problem) Progress.Phase(Name, DeployPhase.Warning, $"{problem}; sending every file");
            if (state.BrokenStaleLock is { } stale)
                Progress.Phase(Name, DeployPhase.Lock, $"took over an abandoned lock ({stale}; heartbeat {(state.BrokenLockAge is { } age ? $"{age.TotalSeconds:0} s old" : "age unknown")})");
            if (state.StaleStagingRemoved > 0) Progress.Phase(Name, DeployPhase.Lock, $"removed {DeploySummary.Count(state.StaleStagingRemoved, "staging directory", "staging directories")} of interrupted runs");
            Previous = state.CurrentReleaseId;
            Report.PreviousReleaseId = state.CurrentReleaseId;

            var plan = Plan = ReleaseSession.Plan(candidate, state);
            if (plan.Unchanged && plan.EditsCheckedAtSeal)
            {
                _listEdits = true;
                return false;
            }
            if (plan.Warning is { } edited) Progress.Phase(Name, DeployPhase.Warning, edited);
            Report.FilesSent = plan.Unchanged ? 0 : plan.Send.Count;
            Report.FilesLinked = plan.Unchanged ? 0 : plan.Link.Count;
            Report.FilesRemoved = plan.Unchanged ? 0 : plan.Removed;
            MoveTo(ServerStage.Planned);
            if (plan.Unchanged)
            {
                await session.FinishAsync(candidate, state, "unchanged", token);
                MoveTo(ServerStage.Finished, DeployPhase.Unchanged, $"already serving this content ({state.CurrentReleaseId})");
                return true;
            }

            Progress.Phase(Name, DeployPhase.Upload, $"{DeploySummary.Count(plan.Send.Count, "file")} ({PlainProgress.Bytes(plan.BytesToSend)}), {plan.Link.Count} linked, {plan.Removed} removed");
            switchSent |= switchToo;
            UploadResult upload;
            try
            {
                upload = Upload = await session.UploadAsync(candidate, plan, StreamCompressions.Choose(_setup.Release.Compress, state), token,
                    switchToo ? state : null);
            }
            catch (ReleaseException e) when (e.Kind == ReleaseFailure.EditedOnServer && !_listEdits)
            {
                Progress.Phase(Name, DeployPhase.Warning, $"{ServerText.Clean(e.Message, 300)}; planning again with the edited files listed");
                _listEdits = true;
                return false;
            }
            Report.BytesSent = upload.BytesSent;
            Progress.Upload(Name, upload.BytesSent, upload.BytesSent);
            MoveTo(ServerStage.Staged, DeployPhase.Verified,
                $"{DeploySummary.Count(upload.FilesSent + upload.FilesLinked, "file")}, {PlainProgress.Bytes(upload.BytesSent)} sent in {DeploySummary.Count(upload.Streams, "stream")} ({upload.Compression.Name()}){(upload.StreamHashVerified ? ", stream hashes match" : "")}");
            if (upload.Switched is { } switched)
            {
                Switch = switched;
                Progress.Phase(Name, DeployPhase.Switch, $"{Previous ?? "none"} -> {candidate.ReleaseId} (as the upload ended)");
                MoveTo(ServerStage.Switched, DeployPhase.Switched, Switched(switched));
            }
            return true;
        }
    }

    private static string Switched(SwitchResult result) =>
        $"{result.PreviousReleaseId ?? "none"} -> {result.ReleaseId}{(result.Pruned.Count > 0 ? $", pruned {result.Pruned.Count}" : "")}";

    /// <summary>Whatever stage the attempts reached → switched: the upload switched, its reply lost.</summary>
    private void SwitchedByUpload(string detail)
    {
        foreach (var stage in (ReadOnlySpan<ServerStage>)[ServerStage.Locked, ServerStage.Planned, ServerStage.Staged])
            if (Stage < stage) MoveTo(stage);
        MoveTo(ServerStage.Switched, DeployPhase.Switched, detail);
    }

    /// <summary>
    /// Staged → switched, with retries. A switch whose reply was lost is not repeated blindly: on a new connection the
    /// lock is taken again and current read; if current is the new release already, the switch happened. When every
    /// attempt failed, the server is asked once more what it serves, so the outcome says the truth.
    /// </summary>
    public async Task<bool> SwitchAsync(CancellationToken cancellationToken)
    {
        Expect(ServerStage.Staged);
        var candidate = _candidate!;
        try
        {
            await _server.RetryAsync(async token =>
            {
                var session = await _server.OpenAsync(token);
                if (session != _lockedOn)
                {
                    // Only while current is where this deploy found it, or its own switch (reply lost) left it:
                    // else another deploy switched in between, and this server stops without switching.
                    var state = await session.RetakeAsync([Previous, candidate.ReleaseId], withManifest: false, token);
                    Locked(session, state);
                    if (state.CurrentReleaseId == candidate.ReleaseId)
                    {
                        MoveTo(ServerStage.Switched, DeployPhase.Switched, $"{Previous ?? "none"} -> {candidate.ReleaseId} (the switch's reply was lost; current is {candidate.ReleaseId})");
                        if (!HoldsLockForCheck) await BestEffortAsync((s, ct) => s.ReleaseLockAsync(ct));
                        return;
                    }
                    // Not switched: current is still where this deploy found it, where a switch back goes.
                    Previous = state.CurrentReleaseId;
                }
                Progress.Phase(Name, DeployPhase.Switch, $"{Previous ?? "none"} -> {candidate.ReleaseId}");
                var result = Switch = await session.SwitchAsync(candidate, Remote!, token, holdLock: HoldsLockForCheck);
                MoveTo(ServerStage.Switched, DeployPhase.Switched, Switched(result));
            }, cancellationToken);
        }
        catch (Exception e) when (Stage == ServerStage.Staged)
        {
            // The switch may have happened with its reply lost: find out before saying what the server serves. With a
            // health check, by taking the lock again: the check and any switch-back run under it, as after a switch
            // whose reply arrived, so no other deploy slips in between and is then reverted by this one's switch-back.
            var (serving, notLocked) = HoldsLockForCheck ? await RetakeForCheckAsync([Previous, candidate.ReleaseId]) : (await FindCurrentAsync(), null);
            if (serving.Known && serving.Id == candidate.ReleaseId)
            {
                MoveTo(ServerStage.Switched, DeployPhase.Switched, $"{Previous ?? "none"} -> {candidate.ReleaseId} (the switch's reply was lost; current is {candidate.ReleaseId})");
                if (!HoldsLockForCheck) await BestEffortAsync((s, ct) => s.ReleaseLockAsync(ct));
                else if (notLocked is { } why) await LockLostForCheckAsync(why);
                return Stage == ServerStage.Switched;
            }
            await FailAsync(e, cancellationToken, serving);
        }
        return Stage == ServerStage.Switched;
    }

    /// <summary>Staged → aborted (<c>--switch=together</c>, another server failed): the upload removed, the lock released.</summary>
    public async Task HoldBackAsync(string reason)
    {
        Expect(ServerStage.Staged);
        await BestEffortAsync((s, ct) => s.AbortAsync(CandidateId, reason, ct));
        Report.Error = reason;
        MoveTo(ServerStage.Aborted, DeployPhase.HeldBack, reason);
    }

    /// <summary>
    /// Switched → switched back to <see cref="Previous"/> (another server's switch failed), with retries. When that fails
    /// too, the server is failed, serving the new release.
    /// </summary>
    public async Task SwitchBackAsync(string reason, CancellationToken cancellationToken)
    {
        if (!await TrySwitchBackAsync(reason, markBad: false, holdLock: false, cancellationToken)) return;
        Report.Error = reason;
        MoveTo(ServerStage.SwitchedBack, DeployPhase.SwitchedBack, $"{CandidateId!.Value} -> {Previous ?? "none"}");
    }

    /// <summary>
    /// Points current back at <see cref="Previous"/>, with retries. When that fails, the server is failed, serving
    /// the new release, the lock released; false then.
    /// </summary>
    private async Task<bool> TrySwitchBackAsync(string reason, bool markBad, bool holdLock, CancellationToken cancellationToken)
    {
        Expect(ServerStage.Switched);
        var from = CandidateId!.Value;
        var to = Previous is null ? (ReleaseId?)null : ReleaseId.Parse(Previous);
        try
        {
            await _server.RetryAsync(async token =>
            {
                var session = await _server.OpenAsync(token);
                Progress.Phase(Name, DeployPhase.SwitchBack, $"current -> {Previous ?? "none"}");
                await session.SwitchBackAsync(from, to, reason, token, markBad, holdLock);
            }, cancellationToken);
            return true;
        }
        catch (Exception e)
        {
            var error = cancellationToken.IsCancellationRequested ? "cancelled" : ServerText.Clean(Retries.Describe(e), 1000);
            await BestEffortAsync((s, ct) => s.ReleaseLockAsync(ct));
            Report.Error = $"{reason}, but switching back failed: {error}; it serves {from}";
            Report.FailureKind = (e as ReleaseException)?.Kind;
            MoveTo(ServerStage.Failed, DeployPhase.Failed, Report.Error);
            return false;
        }
    }

    /// <summary>Switched → finished: the switch stands.</summary>
    public void Finish() => MoveTo(ServerStage.Finished);

    /// <summary>The run was cancelled while this server waited for its turn: failed, and cleaned up where needed.</summary>
    public Task CancelledAsync() => Ended ? Task.CompletedTask : FailAsync("cancelled", null);

    /// <summary>Every transition, checked, with what it means for the report line and the progress.</summary>
    private void MoveTo(ServerStage next, DeployPhase? phase = null, string? detail = null)
    {
        if (!Allowed[Stage].Contains(next))
            throw new InvalidOperationException($"{Name}: a deploy cannot go from {Stage} to {next}.");
        var from = Stage;
        Stage = next;
        switch (next)
        {
            case ServerStage.Finished when from == ServerStage.Planned:
                Report.Outcome = Outcome.Unchanged;
                Report.ReleaseId = Previous;
                break;
            case ServerStage.Switched:
                Report.Outcome = Outcome.Deployed;
                Report.ReleaseId = _candidate!.ReleaseId;
                break;
            case ServerStage.Aborted:
                Report.Outcome = Outcome.HeldBack;
                Report.ReleaseId = Previous;
                break;
            case ServerStage.SwitchedBack:
                Report.Outcome = Outcome.SwitchedBack;
                Report.ReleaseId = Previous;
                break;
            case ServerStage.Failed:
                Report.Outcome = Outcome.Failed;
                break;
        }
        if (phase is { } p) Progress.Phase(Name, p, detail);
    }

    private void Locked(ReleaseSession session, RemoteState state)
    {
        _lockedOn = session;
        Remote = state;
        if (Stage is ServerStage.Connected) MoveTo(ServerStage.Locked);
    }

    private void Expect(ServerStage stage)
    {
        if (Stage != stage) throw new InvalidOperationException($"{Name}: expected {stage}, is {Stage}.");
    }

    private ReleaseId? CandidateId => _candidate is { } c ? ReleaseId.Parse(c.ReleaseId) : null;

    // Once the run is cancelled, that is the reason, whatever the step it cut short threw (a closed channel, a cut stream).
    private Task FailAsync(Exception e, CancellationToken cancellationToken, (bool Known, string? Id)? serving = null) =>
        cancellationToken.IsCancellationRequested
            ? FailAsync("cancelled", null, serving)
            // Server text reaches messages (errors, lock owners): cleaned before the log, the JSON and the XML see it.
            : FailAsync(ServerText.Clean(e.Message, ServerText.MaxErrorBytes), (e as ReleaseException)?.Kind, serving);

    /// <summary>
    /// Any stage → failed. Before the switch current was never touched: this run's staging is removed and the lock
    /// released, best effort and bounded, on a fresh connection if the old one died.
    /// </summary>
    private async Task FailAsync(string error, ReleaseFailure? kind, (bool Known, string? Id)? serving = null)
    {
        var mayHoldLock = Stage is ServerStage.Connected or ServerStage.Locked or ServerStage.Planned or ServerStage.Staged;
        Report.Error = error;
        Report.FailureKind = kind;
        if (serving is { } s)
        {
            Report.ReleaseId = s.Known ? s.Id : null;
            Report.ServingUnknown = !s.Known;
            if (!s.Known) Report.Error = $"{error}; whether it serves {Previous ?? "no release"} or {_candidate?.ReleaseId} could not be read";
        }
        else
        {
            Report.ReleaseId = Stage >= ServerStage.Locked ? Previous : null;
        }
        if (mayHoldLock) await BestEffortAsync((s, ct) => s.AbortAsync(CandidateId, error, ct));
        MoveTo(ServerStage.Failed, DeployPhase.Failed, Report.Error.Split('\n')[0]);
    }

    /// <summary>What current is on the server, asked on a fresh connection (bounded); unknown when it cannot be read.</summary>
    private async Task<(bool Known, string? Id)> FindCurrentAsync()
    {
        using var bound = new CancellationTokenSource(CleanUpBound);
        try
        {
            _server.Drop();
            var session = await _server.OpenAsync(bound.Token);
            var state = await session.InspectAsync(withManifest: false, bound.Token);
            return (true, state.CurrentReleaseId);
        }
        catch (Exception)
        {
            _server.Drop();
            return (false, null);
        }
    }

    /// <summary>
    /// Runs a clean-up on the session (a fresh connection if none is open), bounded by its own timeout: it runs also
    /// after a cancellation, and its own failure is not the story.
    /// </summary>
    private async Task BestEffortAsync(Func<ReleaseSession, CancellationToken, Task> action)
    {
        using var bound = new CancellationTokenSource(CleanUpBound);
        try
        {
            await action(await _server.OpenAsync(bound.Token), bound.Token);
        }
        catch (Exception)
        {
            // The lock is ours: the next run of this job re-takes it, another run sees it as stale after --lock-timeout.
            _server.Drop();
        }
    }

    public void Dispose() => _server.Dispose();
}
