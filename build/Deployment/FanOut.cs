using System.Diagnostics;
using Build.Deployment.Progress;
using Build.Deployment.Reports;
using Build.Deployment.Release;
using Build.Settings;
using Polly;
using Outcome = Build.Deployment.Reports.Outcome;

namespace Build.Deployment;

/// <summary>How the fan-out treats servers: from the settings, plus a bound on one attempt.</summary>
public sealed record FanOutOptions
{
    public required string RemoteRoot { get; init; }
    public int Parallel { get; init; } = 8;
    public int Attempts { get; init; } = 3;
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// One attempt (connect, lock, upload and verify) may take this long before it counts as a transient failure:
    /// a blog's upload through a slow link fits, and all attempts fit inside the deploy jobs' script timeout.
    /// </summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public SwitchMode Switch { get; init; } = SwitchMode.Together;

    /// <summary>--plan at -v verbose: each file that would be sent is listed.</summary>
    public bool ListFiles { get; init; }

    public static FanOutOptions From(DeploySettings settings) => new()
    {
        RemoteRoot = settings.RemoteRoot,
        Parallel = settings.Parallel,
        Attempts = settings.Retry.Attempts,
        RetryDelay = settings.Retry.Delay,
        Switch = settings.Switch,
    };

    /// <summary>The remote root of one server: <c>{server}</c> expands to its name.</summary>
    public string RootOf(DeployTarget target) => RemoteRoot.Replace("{server}", target.Name, StringComparison.Ordinal).TrimEnd('/');
}

/// <summary>
/// Runs one operation on every server at once (up to <see cref="FanOutOptions.Parallel"/>), each server
/// in its own retry pipeline, and fills the report as it goes so that a failed or cancelled run still
/// reports every server. One server's failure never stops the others.
/// </summary>
public sealed class FanOut(
    IReadOnlyList<DeployTarget> servers,
    ConnectServer connect,
    ReleaseRun run,
    ReleaseOptions release,
    FanOutOptions options,
    IDeployProgress progress,
    TimeProvider time)
{
    private readonly SemaphoreSlim _slots = new(options.Parallel);

    public IReadOnlyList<DeployTarget> Servers => servers;

    /// <summary>
    /// Deploy: connect and lock while the manifest is still being hashed, upload the delta, then switch
    /// (all together after every upload succeeded, or each as soon as it is ready). Returns the seconds
    /// from the first connect to the last switch.
    /// </summary>
    public async Task<TimeSpan> DeployAsync(Task<ReleaseCandidate> candidate, DeployReport report, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var work = servers.Select(s => new ServerWork(s, Add(report, s), options.RootOf(s))).ToList();
        try
        {
            if (options.Switch == SwitchMode.Independent)
            {
                await Task.WhenAll(work.Select(w => Guard(w, async ct =>
                {
                    await StageAsync(w, candidate, ct);
                    if (w.Staged) await SwitchAsync(w, await candidate, ct);
                }, cancellationToken)));
            }
            else
            {
                await Task.WhenAll(work.Select(w => Guard(w, ct => StageAsync(w, candidate, ct), cancellationToken)));
                var failed = work.Where(w => w.Report.IsFailure).Select(w => w.Target.Name).ToList();
                if (failed.Count > 0)
                {
                    // --switch=together: nobody switches unless every server got as far as its switch.
                    var reason = $"held back: {Names(failed)} failed before the switch (--switch=together)";
                    await Task.WhenAll(work.Where(w => w.Staged).Select(w => HoldBackAsync(w, reason)));
                }
                else
                {
                    await Task.WhenAll(work.Where(w => w.Staged).Select(w => Guard(w, async ct => await SwitchAsync(w, await candidate, ct), cancellationToken)));
                    var switchFailed = work.Where(w => w.Report.IsFailure).Select(w => w.Target.Name).ToList();
                    if (switchFailed.Count > 0)
                    {
                        // Some switched, some did not: put the switched ones back so that the fleet serves one release.
                        var reason = $"switched back: the switch failed on {Names(switchFailed)} (--switch=together)";
                        await Task.WhenAll(work.Where(w => w.Switched is not null).Select(w => SwitchBackAsync(w, reason, cancellationToken)));
                    }
                }
            }
            cancellationToken.ThrowIfCancellationRequested();
            return clock.Elapsed;
        }
        finally
        {
            foreach (var w in work) w.Close();
        }
    }

    /// <summary>--plan: connect, read each server's current manifest, compute its delta; no lock, no change.</summary>
    public async Task PlanAsync(Task<ReleaseCandidate> candidate, DeployReport report, CancellationToken cancellationToken)
    {
        var work = servers.Select(s => new ServerWork(s, Add(report, s), options.RootOf(s))).ToList();
        try
        {
            await Task.WhenAll(work.Select(w => Guard(w, async ct =>
            {
                await Attempts(w, async token =>
                {
                    var session = await ConnectAsync(w, token);
                    progress.Phase(w.Target.Name, "plan");
                    var state = await session.InspectAsync(withManifest: true, token);
                    var c = await candidate.WaitAsync(token);
                    var plan = ReleaseSession.Plan(c, state);
                    Count(w.Report, plan);
                    // What would be sent, so that the table agrees with the plan line.
                    w.Report.BytesSent = plan.Unchanged ? 0 : plan.BytesToSend;
                    w.Report.PreviousReleaseId = state.CurrentReleaseId;
                    w.Report.ReleaseId = plan.Unchanged ? state.CurrentReleaseId : c.ReleaseId;
                    w.Report.Outcome = Outcome.Planned;
                    if (options.ListFiles && !plan.Unchanged)
                        foreach (var file in plan.Send)
                            progress.Phase(w.Target.Name, "would send", $"{file.Path} ({PlainProgress.Bytes(file.Size)})");
                    var locked = state.Locked ? $"; locked by {state.LockOwner}" : "";
                    progress.Phase(w.Target.Name, "planned", $"{plan}{locked}");
                }, ct);
            }, cancellationToken)));
        }
        finally
        {
            foreach (var w in work) w.Close();
        }
    }

    /// <summary>Rollback: each server back to its rollback target (or <paramref name="releaseId"/>); the release left is marked bad.</summary>
    public async Task RollbackAsync(string? releaseId, DeployReport report, CancellationToken cancellationToken)
    {
        var work = servers.Select(s => new ServerWork(s, Add(report, s), options.RootOf(s))).ToList();
        try
        {
            await Task.WhenAll(work.Select(w => Guard(w, async ct =>
            {
                string? from = null, to = null, note = null;
                await Attempts(w, async token =>
                {
                    var session = await ConnectAsync(w, token);
                    if (to is null)
                    {
                        // Fix the target once: a retry after a cut must not roll back a second step.
                        var state = await session.InspectAsync(withManifest: false, token);
                        from = state.CurrentReleaseId;
                        note = releaseId is null ? state.RollbackTargetNote : null;
                        to = releaseId ?? state.RollbackTarget
                            ?? throw new ReleaseException($"{w.Root} has no release to roll back to (current: {from ?? "none"}).", ReleaseFailure.NoRollbackTarget);
                    }
                    progress.Phase(w.Target.Name, "rollback", $"{from ?? "none"} -> {to}{(note is null ? "" : $" ({note})")}");
                    var result = await session.RollbackAsync(to, token);
                    w.Report.PreviousReleaseId = from;
                    w.Report.ReleaseId = to;
                    w.Report.Outcome = result.Changed || from != to ? Outcome.RolledBack : Outcome.Unchanged;
                    progress.Phase(w.Target.Name, "rolled back", $"{from ?? "none"} -> {to}");
                }, ct);
            }, cancellationToken)));
        }
        finally
        {
            foreach (var w in work) w.Close();
        }
    }

    /// <summary>Runs <paramref name="action"/> on each server's session (listings, unlock), with retries.</summary>
    public async Task ForEachAsync(DeployReport report, Func<DeployTarget, ReleaseSession, CancellationToken, Task<Outcome>> action, CancellationToken cancellationToken)
    {
        var work = servers.Select(s => new ServerWork(s, Add(report, s), options.RootOf(s))).ToList();
        try
        {
            await Task.WhenAll(work.Select(w => Guard(w, async ct =>
            {
                await Attempts(w, async token =>
                {
                    var session = await ConnectAsync(w, token);
                    w.Report.Outcome = await action(w.Target, session, token);
                }, ct);
            }, cancellationToken)));
        }
        finally
        {
            foreach (var w in work) w.Close();
        }
    }

    private static ServerReport Add(DeployReport report, DeployTarget target)
    {
        var line = new ServerReport { Server = target.Name, Address = target.Port is { } p ? $"{target.Address}:{p}" : target.Address };
        lock (report) report.Servers.Add(line);
        return line;
    }

    private static void Count(ServerReport report, DeltaPlan plan)
    {
        report.FilesSent = plan.Unchanged ? 0 : plan.Send.Count;
        report.FilesLinked = plan.Unchanged ? 0 : plan.Link.Count;
        report.FilesRemoved = plan.Unchanged ? 0 : plan.Removed;
    }

    /// <summary>Connect, lock, plan and upload: everything up to (not including) the switch.</summary>
    private Task StageAsync(ServerWork w, Task<ReleaseCandidate> candidate, CancellationToken cancellationToken) =>
        Attempts(w, async token =>
        {
            var session = await ConnectAsync(w, token);
            progress.Phase(w.Target.Name, "lock");
            var state = await session.PrepareDeployAsync(token);
            if (state.ManifestProblem is { } problem) progress.Phase(w.Target.Name, "warning", $"{problem}; sending every file");
            if (state.BrokenStaleLock is { } stale) progress.Phase(w.Target.Name, "lock", $"broke a stale lock ({stale})");
            w.State = state;
            var c = await candidate.WaitAsync(token);
            var plan = ReleaseSession.Plan(c, state);
            Count(w.Report, plan);
            w.Report.PreviousReleaseId = state.CurrentReleaseId;
            if (plan.Unchanged)
            {
                await session.FinishAsync(c, state, "unchanged", token);
                w.Report.ReleaseId = state.CurrentReleaseId;
                w.Report.Outcome = Outcome.Unchanged;
                w.Finished();
                progress.Phase(w.Target.Name, "unchanged", $"already serving this content ({state.CurrentReleaseId})");
                return;
            }
            progress.Phase(w.Target.Name, "upload", $"{DeploySummary.Count(plan.Send.Count, "file")} ({PlainProgress.Bytes(plan.BytesToSend)}), {plan.Link.Count} linked, {plan.Removed} removed");
            w.Uploading = c.ReleaseId;
            var upload = await session.UploadAsync(c, plan, release.Compress && state.CanGzip, token);
            w.Report.BytesSent = upload.BytesSent;
            w.Report.ReleaseId = c.ReleaseId;
            w.Staged = true;
            progress.Upload(w.Target.Name, upload.BytesSent, upload.BytesSent);
            progress.Phase(w.Target.Name, "verified", $"{DeploySummary.Count(upload.FilesSent + upload.FilesLinked, "file")}, {PlainProgress.Bytes(upload.BytesSent)} sent in {DeploySummary.Count(upload.Streams, "stream")}{(upload.StreamHashVerified ? ", stream hashes match" : "")}");
        }, cancellationToken);

    private Task SwitchAsync(ServerWork w, ReleaseCandidate candidate, CancellationToken cancellationToken) =>
        Attempts(w, async token =>
        {
            var session = await ConnectAsync(w, token);
            if (w.Reconnected || w.State is null)
            {
                // A new connection: take our own lock again and re-read the state before switching.
                w.State = await session.PrepareAsync(withManifest: false, token);
                w.Reconnected = false;
            }
            progress.Phase(w.Target.Name, "switch", $"current -> {candidate.ReleaseId}");
            var result = await session.SwitchAsync(candidate, w.State, token);
            w.Report.Outcome = Outcome.Deployed;
            w.Finished();
            w.Switched = (candidate.ReleaseId, result.PreviousReleaseId);
            var pruned = result.Pruned.Count > 0 ? $", pruned {result.Pruned.Count}" : "";
            progress.Phase(w.Target.Name, "switched", $"{result.PreviousReleaseId ?? "none"} -> {result.ReleaseId}{pruned}");
        }, cancellationToken);

    /// <summary>Removes an uploaded release that will not be switched to, and unlocks.</summary>
    private async Task HoldBackAsync(ServerWork w, string reason)
    {
        w.Report.Outcome = Outcome.HeldBack;
        w.Report.ReleaseId = w.Report.PreviousReleaseId;
        w.Report.Error = reason;
        progress.Phase(w.Target.Name, "held back", reason);
        await CleanUpAsync(w, reason);
    }

    /// <summary>
    /// Points a server that switched back at the release it served before (another server's switch failed), with
    /// retries and a slot like any step. On failure the server is reported as failed, serving the new release.
    /// </summary>
    private async Task SwitchBackAsync(ServerWork w, string reason, CancellationToken cancellationToken)
    {
        var (from, to) = w.Switched!.Value;
        try
        {
            await _slots.WaitAsync(cancellationToken);
            try
            {
                await Attempts(w, async token =>
                {
                    var session = await ConnectAsync(w, token);
                    w.Locking();
                    progress.Phase(w.Target.Name, "switch back", $"current -> {to ?? "none"}");
                    await session.SwitchBackAsync(from, to, reason, token);
                }, cancellationToken);
            }
            finally
            {
                _slots.Release();
            }
            w.Report.Outcome = Outcome.SwitchedBack;
            w.Report.ReleaseId = to;
            w.Report.Error = reason;
            progress.Phase(w.Target.Name, "switched back", $"{from} -> {to ?? "none"}");
        }
        catch (Exception e)
        {
            var error = $"{reason}, but switching back failed: {ServerText.Clean(Retries.Describe(e), 1000)}; it serves {from}";
            Fail(w, error, (e as ReleaseException)?.Kind);
            w.Report.ReleaseId = from;
            await CleanUpAsync(w, error);
        }
    }

    private static string Names(IReadOnlyList<string> names) => string.Join(", ", names);

    /// <summary>The retry pipeline around one step; a failed attempt drops its connection so the next one starts fresh.</summary>
    private async Task Attempts(ServerWork w, Func<CancellationToken, Task> step, CancellationToken cancellationToken)
    {
        var pipeline = Retries.Create(options.Attempts, options.RetryDelay, options.AttemptTimeout, time,
            message => progress.Phase(w.Target.Name, "retry", message));
        await pipeline.ExecuteAsync(async token =>
        {
            try
            {
                await step(token);
            }
            catch
            {
                w.Drop();
                throw;
            }
        }, cancellationToken);
    }

    private async Task<ReleaseSession> ConnectAsync(ServerWork w, CancellationToken cancellationToken)
    {
        if (w.Session is { } open) return open;
        progress.Phase(w.Target.Name, "connect", w.Report.Address);
        var link = await connect(w.Target, cancellationToken);
        w.Open(link, new ReleaseSession(link.Shell, w.Root, run, release, time));
        return w.Session!;
    }

    /// <summary>Runs one server's part: waits for a slot, records the outcome, never throws (except for cancellation at the end).</summary>
    private async Task Guard(ServerWork w, Func<CancellationToken, Task> part, CancellationToken cancellationToken)
    {
        if (!w.Target.Online)
        {
            Fail(w, $"{w.Target.Name} is offline in the tailnet; it was not deployed to.");
            return;
        }
        if (w.Report.IsFailure) return;
        var started = time.GetTimestamp();
        try
        {
            await _slots.WaitAsync(cancellationToken);
            try
            {
                await part(cancellationToken);
            }
            finally
            {
                _slots.Release();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Fail(w, "cancelled");
            await CleanUpAsync(w, "cancelled");
        }
        catch (Exception e)
        {
            // Server text reaches messages (errors, lock owners): cleaned before the log, the JSON and the XML see it.
            var error = ServerText.Clean(e.Message, ServerText.MaxErrorBytes);
            Fail(w, error, (e as ReleaseException)?.Kind);
            await CleanUpAsync(w, error);
        }
        finally
        {
            w.Report.Seconds += time.GetElapsedTime(started).TotalSeconds;
        }
    }

    private void Fail(ServerWork w, string error, ReleaseFailure? kind = null)
    {
        w.Report.Outcome = Outcome.Failed;
        w.Report.Error = error;
        w.Report.FailureKind = kind;
        progress.Phase(w.Target.Name, "failed", error.Split('\n')[0]);
    }

    /// <summary>
    /// Best effort, bounded, and on a fresh connection if the old one died: remove this run's staging
    /// and unlock, so a failed or cancelled server is left as it was (current never touched).
    /// </summary>
    private async Task CleanUpAsync(ServerWork w, string reason)
    {
        if (!w.MayHoldLock) return;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            var session = await ConnectAsync(w, bound.Token);
            // An upload that was started (even if cut or cancelled half way) leaves a staging directory to remove.
            await session.AbortAsync(w.Uploading ?? (w.Staged ? w.Report.ReleaseId : null), reason, bound.Token);
            w.Finished();
        }
        catch (Exception)
        {
            // The failure itself is what gets reported; the lock is ours and the next run of this job re-takes it,
            // another run sees it as stale after --lock-timeout.
        }
    }

    /// <summary>One server's state across the steps of an operation.</summary>
    private sealed class ServerWork(DeployTarget target, ServerReport report, string root)
    {
        private ServerLink? _link;

        public DeployTarget Target { get; } = target;
        public ServerReport Report { get; } = report;
        public string Root { get; } = root;
        public ReleaseSession? Session { get; private set; }
        public RemoteState? State { get; set; }
        public bool Staged { get; set; }

        /// <summary>After a switch: the release switched to and the one served before (null: none), for a switch back.</summary>
        public (string NewRelease, string? Previous)? Switched { get; set; }

        /// <summary>The release an upload was started for: what a clean-up removes unless it became current.</summary>
        public string? Uploading { get; set; }

        /// <summary>Set when a connection was replaced, so the next step re-takes the lock first.</summary>
        public bool Reconnected { get; set; }

        /// <summary>Once a session was opened the lock may be ours until Finish, Switch or Abort released it.</summary>
        public bool MayHoldLock { get; private set; }

        public void Open(ServerLink link, ReleaseSession session)
        {
            Reconnected = _link is not null || State is not null;
            _link = link;
            Session = session;
            MayHoldLock = true;
        }

        /// <summary>A step that takes the lock again on an open session (a switch back).</summary>
        public void Locking() => MayHoldLock = true;

        public void Finished()
        {
            MayHoldLock = false;
            Staged = false;
            Uploading = null;
        }

        public void Drop()
        {
            _link?.Dispose();
            _link = null;
            Session = null;
        }

        public void Close() => Drop();
    }
}
