using System.Diagnostics;
using Build.Deployment.Progress;
using Build.Deployment.Reports;
using Build.Deployment.Release;
using Build.Settings;
using Outcome = Build.Deployment.Reports.Outcome;

namespace Build.Deployment;

/// <summary>How the fan-out treats servers: from the settings, plus a bound on one attempt.</summary>
public sealed record FanOutOptions
{
    public required RemoteRoot RemoteRoot { get; init; }
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
        RemoteRoot = RemoteRoot.Of(settings.RemoteRoot),
        Parallel = settings.Parallel,
        Attempts = settings.Retry.Attempts,
        RetryDelay = settings.Retry.Delay,
        Switch = settings.Switch,
    };

    /// <summary>The remote root of one server: <c>{server}</c> expands to its name.</summary>
    public RemoteRoot RootOf(DeployTarget target) => RemoteRoot.For(target.Name);
}

/// <summary>
/// Runs one operation on every server at once (up to <see cref="FanOutOptions.Parallel"/>) and fills the report as it
/// goes, so that a failed or cancelled run still reports every server. One server's failure never stops the others.
/// A deploy is one <see cref="ServerDeploy"/> per server; the fan-out only schedules their steps and decides, by
/// <c>--switch</c>, when each switches and whether switched servers go back. With a <see cref="Health.HealthGate"/>,
/// every switch is followed by a health check under the same lock (FanOut.Health.cs).
/// </summary>
public sealed partial class FanOut(
    IReadOnlyList<DeployTarget> servers,
    ConnectServer connect,
    ReleaseRun run,
    ReleaseOptions release,
    FanOutOptions options,
    IDeployProgress progress,
    TimeProvider time,
    Health.HealthGate? health = null)
{
    private readonly SemaphoreSlim _slots = new(options.Parallel);
    private readonly ServerSetup _setup = new(connect, run, release, options, progress, time, health);

    public IReadOnlyList<DeployTarget> Servers => servers;

    /// <summary>
    /// Deploy: connect and lock while the manifest is still being hashed, upload the delta, then switch (all together
    /// after every upload succeeded, or each as soon as it is ready). Returns each server's deploy and the time from
    /// the first connect to the last switch.
    /// </summary>
    public async Task<FanOutResult> DeployAsync(Task<ReleaseCandidate> candidate, DeployReport report, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var deploys = servers.Select(s => new ServerDeploy(Connection(s), Add(report, s), _setup, candidate)).ToList();
        // Nothing waits between a server's upload and its switch (each switches on its own, or it is the only one, and no
        // health check holds the lock after): the upload switches as it ends, one round trip less.
        var switchWithUpload = health is null && (options.Switch == SwitchMode.Independent || deploys.Count == 1);
        try
        {
            if (options.Switch == SwitchMode.Independent)
            {
                await Task.WhenAll(deploys.Select(d => Scheduled(d, async ct =>
                {
                    if (!await d.StageAsync(ct, switchWithUpload)) return;
                    if (d.Stage == ServerStage.Staged && !await d.SwitchAsync(ct)) return;
                    if (health is null) d.Finish();
                    else await GateAsync([d], together: false, scheduled: false, ct);
                }, cancellationToken)));
            }
            else
            {
                await TogetherAsync(deploys, switchWithUpload, cancellationToken);
            }
            cancellationToken.ThrowIfCancellationRequested();
            return new FanOutResult(clock.Elapsed, deploys);
        }
        finally
        {
            foreach (var d in deploys) d.Dispose();
        }
    }

    /// <summary>--switch=together: nobody switches unless every server got as far as its switch; nobody stays switched unless all did.</summary>
    private async Task TogetherAsync(IReadOnlyList<ServerDeploy> deploys, bool switchWithUpload, CancellationToken cancellationToken)
    {
        await Task.WhenAll(deploys.Select(d => Scheduled(d, ct => d.StageAsync(ct, switchWithUpload), cancellationToken)));
        if (switchWithUpload)
        {
            // One server: its upload switched it, or it failed; either way there is nothing to hold back or put back.
            foreach (var d in deploys.Where(d => d.Stage == ServerStage.Switched)) d.Finish();
            return;
        }
        var failed = Names(deploys.Where(d => d.Stage == ServerStage.Failed));
        var staged = deploys.Where(d => d.Stage == ServerStage.Staged).ToList();
        if (failed.Count > 0 || cancellationToken.IsCancellationRequested)
        {
            var reason = failed.Count > 0 ? $"held back: {string.Join(", ", failed)} failed before the switch (--switch=together)" : "held back: cancelled";
            await Task.WhenAll(staged.Select(d => d.HoldBackAsync(reason)));
            return;
        }

        await Task.WhenAll(staged.Select(d => Scheduled(d, d.SwitchAsync, cancellationToken)));
        var switchFailed = Names(staged.Where(d => d.Stage == ServerStage.Failed));
        var switched = staged.Where(d => d.Stage == ServerStage.Switched).ToList();
        if (switchFailed.Count == 0)
        {
            if (health is not null) await GateAsync(switched, together: true, scheduled: true, cancellationToken);
            else foreach (var d in switched) d.Finish();
            return;
        }
        // Some switched, some did not: put the switched ones back so that the fleet serves one release.
        var back = $"switched back: the switch failed on {string.Join(", ", switchFailed)} (--switch=together)";
        await Task.WhenAll(switched.Select(d => Scheduled(d, ct => d.SwitchBackAsync(back, ct), cancellationToken)));
    }

    /// <summary>--plan: connect, read each server's current manifest, compute its delta; no lock, no change.</summary>
    public async Task PlanAsync(Task<ReleaseCandidate> candidate, DeployReport report, CancellationToken cancellationToken)
    {
        var work = servers.Select(s => (Server: Connection(s), Report: Add(report, s))).ToList();
        try
        {
            await Task.WhenAll(work.Select(w => Guard(w.Server, w.Report, async ct =>
            {
                await w.Server.RetryAsync(async token =>
                {
                    var session = await w.Server.OpenAsync(token);
                    progress.Phase(w.Server.Target.Name, DeployPhase.Plan);
                    var state = await session.InspectAsync(withManifest: true, token);
                    var c = await candidate.WaitAsync(token);
                    var plan = ReleaseSession.Plan(c, state);
                    w.Report.FilesSent = plan.Unchanged ? 0 : plan.Send.Count;
                    w.Report.FilesLinked = plan.Unchanged ? 0 : plan.Link.Count;
                    w.Report.FilesRemoved = plan.Unchanged ? 0 : plan.Removed;
                    // What would be sent, so that the table agrees with the plan line.
                    w.Report.BytesSent = plan.Unchanged ? 0 : plan.BytesToSend;
                    w.Report.PreviousReleaseId = state.CurrentReleaseId;
                    w.Report.ReleaseId = plan.Unchanged ? state.CurrentReleaseId : c.ReleaseId;
                    w.Report.Outcome = Outcome.Planned;
                    if (options.ListFiles && !plan.Unchanged)
                        foreach (var file in plan.Send)
                            progress.Phase(w.Server.Target.Name, DeployPhase.WouldSend, $"{file.Path} ({PlainProgress.Bytes(file.Size)})");
                    var locked = state.Locked ? $"; locked by {state.LockOwner}" : "";
                    progress.Phase(w.Server.Target.Name, DeployPhase.Planned, $"{plan}{locked}");
                }, ct);
            }, cleanUp: false, cancellationToken)));
        }
        finally
        {
            foreach (var w in work) w.Server.Dispose();
        }
    }

    /// <summary>Rollback: each server back to its rollback target (or <paramref name="releaseId"/>); the release left is marked bad.</summary>
    public async Task RollbackAsync(ReleaseId? releaseId, DeployReport report, CancellationToken cancellationToken)
    {
        var work = servers.Select(s => (Server: Connection(s), Report: Add(report, s))).ToList();
        try
        {
            await Task.WhenAll(work.Select(w => Guard(w.Server, w.Report, async ct =>
            {
                string? from = null, note = null;
                ReleaseId? to = null;
                var held = false;
                var name = w.Server.Target.Name;
                await w.Server.RetryAsync(async token =>
                {
                    var session = await w.Server.OpenAsync(token);
                    if (to is null)
                    {
                        // Fix the target once: a retry after a cut must not roll back a second step.
                        var state = await session.InspectAsync(withManifest: false, token);
                        from = state.CurrentReleaseId;
                        note = releaseId is null ? state.RollbackTargetNote : null;
                        to = releaseId ?? ReleaseId.TryParse(state.RollbackTarget)
                            ?? throw new ReleaseException($"{w.Server.Root} has no release to roll back to (current: {from ?? "none"}).", ReleaseFailure.NoRollbackTarget);
                    }
                    progress.Phase(name, DeployPhase.Rollback, $"{from ?? "none"} -> {to}{(note is null ? "" : $" ({note})")}");
                    var result = await session.RollbackAsync(to, token, holdLock: health is not null);
                    w.Report.PreviousReleaseId = from;
                    w.Report.ReleaseId = to;
                    w.Report.Outcome = result.Changed || from != to ? Outcome.RolledBack : Outcome.Unchanged;
                    progress.Phase(name, DeployPhase.RolledBack, $"{from ?? "none"} -> {to}");
                    held = result.Changed && health is not null;
                }, ct);
                if (held) await CheckRollbackAsync(w.Server, w.Report, to!.Value.Value, ct);
            }, cleanUp: true, cancellationToken)));
        }
        finally
        {
            foreach (var w in work) w.Server.Dispose();
        }
    }

    /// <summary>Runs <paramref name="action"/> on each server's session (listings, unlock), with retries.</summary>
    public async Task ForEachAsync(DeployReport report, Func<DeployTarget, ReleaseSession, CancellationToken, Task<Outcome>> action, CancellationToken cancellationToken)
    {
        var work = servers.Select(s => (Server: Connection(s), Report: Add(report, s))).ToList();
        try
        {
            await Task.WhenAll(work.Select(w => Guard(w.Server, w.Report, async ct =>
            {
                await w.Server.RetryAsync(async token =>
                {
                    var session = await w.Server.OpenAsync(token);
                    w.Report.Outcome = await action(w.Server.Target, session, token);
                }, ct);
            }, cleanUp: false, cancellationToken)));
        }
        finally
        {
            foreach (var w in work) w.Server.Dispose();
        }
    }

    private ServerConnection Connection(DeployTarget target) => new(target, options.RootOf(target), _setup);

    private static ServerReport Add(DeployReport report, DeployTarget target)
    {
        var line = new ServerReport { Server = target.Name, Address = target.Port is { } p ? $"{target.Address}:{p}" : target.Address };
        lock (report) report.Servers.Add(line);
        return line;
    }

    private static List<string> Names(IEnumerable<ServerDeploy> deploys) => deploys.Select(d => d.Name).ToList();

    /// <summary>One step of a server's deploy in a slot; a run cancelled while it waits fails that server (cleaned up).</summary>
    private async Task Scheduled(ServerDeploy deploy, Func<CancellationToken, Task> step, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        try
        {
            await _slots.WaitAsync(cancellationToken);
            try
            {
                await step(cancellationToken);
            }
            finally
            {
                _slots.Release();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await deploy.CancelledAsync();
        }
        finally
        {
            deploy.Report.Seconds += time.GetElapsedTime(started).TotalSeconds;
        }
    }

    /// <summary>
    /// Runs one server's part of a plan, rollback or listing: waits for a slot, records the outcome, never throws
    /// (a cancelled run throws at the end). A rollback that failed removes its lock, best effort and bounded.
    /// </summary>
    private async Task Guard(ServerConnection server, ServerReport report, Func<CancellationToken, Task> part, bool cleanUp, CancellationToken cancellationToken)
    {
        if (!server.Target.Online)
        {
            Fail(server, report, $"{server.Target.Name} is offline in the tailnet; it was not deployed to.");
            return;
        }
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
        catch (Exception e)
        {
            // Once the run is cancelled, that is the reason, whatever the step it cut short threw.
            var error = cancellationToken.IsCancellationRequested
                ? "cancelled"
                // Server text reaches messages (errors, lock owners): cleaned before the log, the JSON and the XML see it.
                : ServerText.Clean(e.Message, ServerText.MaxErrorBytes);
            Fail(server, report, error, (e as ReleaseException)?.Kind);
            if (cleanUp) await ReleaseLockAsync(server, error);
        }
        finally
        {
            report.Seconds += time.GetElapsedTime(started).TotalSeconds;
        }
    }

    private void Fail(ServerConnection server, ServerReport report, string error, ReleaseFailure? kind = null)
    {
        report.Outcome = Outcome.Failed;
        report.Error = error;
        report.FailureKind = kind;
        progress.Phase(server.Target.Name, DeployPhase.Failed, error.Split('\n')[0]);
    }

    private static async Task ReleaseLockAsync(ServerConnection server, string reason)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            var session = await server.OpenAsync(bound.Token);
            await session.AbortAsync(null, reason, bound.Token);
        }
        catch (Exception)
        {
            // The failure itself is what gets reported; another run sees the lock as stale after --lock-timeout.
            server.Drop();
        }
    }
}

/// <summary>A deploy's result: the time from the first connect to the last switch, and each server's deploy.</summary>
public sealed record FanOutResult(TimeSpan Elapsed, IReadOnlyList<ServerDeploy> Servers);
