using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text;
using Build.Settings;

namespace Build.Deployment.Release;

public sealed record UploadResult(
    string ReleaseId,
    int FilesSent,
    int FilesLinked,
    int FilesRemoved,
    long BytesSent,
    long ContentBytesSent,
    bool StreamHashVerified,
    int Streams,
    TimeSpan Elapsed,
    StreamCompression Compression,
    SwitchResult? Switched = null);

public sealed record SwitchResult(string ReleaseId, string? PreviousReleaseId, IReadOnlyList<string> Pruned);

public sealed record RollbackResult(string? From, string To, bool Changed);

/// <summary>
/// The release protocol on one server, in the order a deploy runs it, so that the lifecycle
/// (<see cref="ServerDeploy"/>) can hold every server between upload and switch (<c>--switch=together</c>):
/// <list type="number">
/// <item>prepare: <see cref="PrepareDeployAsync"/>, lock + state + current manifest (1 round trip; more only while
/// waiting for another run's lock);</item>
/// <item>upload: <see cref="UploadAsync"/>, stage, extract, verify, rename to releases/&lt;id&gt; (1 round trip, whatever
/// the number of files; the parts run side by side on their own channels);</item>
/// <item>switch: <see cref="SwitchAsync"/>, switch + prune + log + unlock (1 round trip);</item>
/// <item>or finish: <see cref="FinishAsync"/> for an unchanged server; or abort: <see cref="AbortAsync"/>, this run's
/// staging removed and unlocked.</item>
/// </list>
/// Which command runs on which channel (started ahead, or one at a time) is <see cref="CommandChannels"/>' business.
/// <see cref="InspectAsync"/> reads the same state without the lock and changes nothing (plan, listing).
/// </summary>
public sealed class ReleaseSession : IDisposable
{
    private readonly IRemoteShell shell;
    private readonly ReleaseRun run;
    private readonly ReleaseOptions options;
    private readonly TimeProvider time;
    private readonly CommandChannels channels;
    private readonly string root;
    private readonly SharedUploads? shared;

    // The lock is this session's (run, target) pair: two targets of one run on one directory wait for each other.
    private readonly string target;
    private readonly string ownerKey;
    private LockOwner? holding;
    private LockHeartbeat? heartbeat;

    /// <param name="target">The server name this session deploys for: with the run id, the lock's owner.</param>
    /// <param name="shared">The deploy's shared upload streams: servers with the same plan send one stream, produced once (null: each its own).</param>
    public ReleaseSession(IRemoteShell shell, RemoteRoot remoteRoot, ReleaseRun run, ReleaseOptions options, TimeProvider time, string target = "default",
        SharedUploads? shared = null)
    {
        this.shared = shared;
        if (!LockOwner.IsValidRunId(run.RunId))
            throw new ArgumentException($"run id {run.RunId} has characters the remote command line does not accept", nameof(run));
        if (!ServerName.IsValid(target))
            throw new ArgumentException($"target {target} is not a server name", nameof(target));
        this.target = target;
        ownerKey = $"{run.RunId}/{target}";
        // Every reply is cleaned and bounded before it is parsed: what a server sends can fail a step, never the client.
        this.shell = shell as CleaningShell ?? new CleaningShell(shell);
        Root = remoteRoot;
        root = remoteRoot.Path;
        this.run = run;
        this.options = options;
        this.time = time;
        channels = new CommandChannels(this.shell, [root, ownerKey]);
    }

    public RemoteRoot Root { get; }

    /// <summary>The server refused a channel (sshd's MaxSessions): this session runs one command at a time.</summary>
    public bool OneAtATime => channels.OneAtATime;

    /// <summary>State without taking the lock; changes nothing on the server.</summary>
    public async Task<RemoteState> InspectAsync(bool withManifest, CancellationToken cancellationToken)
    {
        var result = await RunAsync(RemoteScripts.Prepare, [root, ownerKey, "look", "0", withManifest ? "yes" : "no", "", "-", "*", "walk"], cancellationToken);
        Check(result, "read the release state");
        return RemoteState.Parse(result.Output);
    }

    /// <summary>
    /// Takes the lock (the same run and target re-take their own) and reads the state, then keeps the lock alive with a
    /// heartbeat until a step unlocks. Another owner's lock is waited for up to <see cref="ReleaseOptions.LockWait"/>,
    /// polling; the server takes it over as soon as its heartbeat is older than <see cref="ReleaseOptions.LockTimeout"/>
    /// on the server's own clock (reported in <see cref="RemoteState.BrokenStaleLock"/>).
    /// </summary>
    /// <param name="walkEdits">False: where the server can, finding the files edited since current was sealed is left
    /// to the upload's seal (<see cref="RemoteState.EditsAtSeal"/>), which saves a walk of the current release.</param>
    public Task<RemoteState> PrepareAsync(bool withManifest, CancellationToken cancellationToken, bool walkEdits = true) =>
        LockAsync(withManifest, "*", walkEdits, cancellationToken);

    /// <summary>
    /// After a reconnect: takes the lock again only while current is one of <paramref name="expected"/> (null: no
    /// current release), as this deploy found it (or as its own switch whose reply was lost left it); otherwise fails
    /// with <see cref="ReleaseFailure.CurrentChanged"/> and leaves the server as it is, so a deploy made in between is
    /// never reverted.
    /// </summary>
    public Task<RemoteState> RetakeAsync(IReadOnlyList<string?> expected, bool withManifest, CancellationToken cancellationToken, bool walkEdits = true)
    {
        if (expected.Count == 0 || expected.Any(e => e is not null && !ServerName.IsReleaseId(e)))
            throw new ArgumentException($"not release ids: {string.Join(", ", expected)}", nameof(expected));
        return LockAsync(withManifest, string.Join(' ', expected.Select(e => e ?? "-").Distinct()), walkEdits, cancellationToken);
    }

    private async Task<RemoteState> LockAsync(bool withManifest, string expect, bool walkEdits, CancellationToken cancellationToken)
    {
        await StopHeartbeatAsync();
        var started = time.GetTimestamp();
        var timeout = ((long)Math.Ceiling(options.LockTimeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        while (true)
        {
            var now = time.GetUtcNow();
            var owner = run.Owner(now, target, LockOwner.NewInstance());
            var result = await RunAsync(RemoteScripts.Prepare,
                [root, ownerKey, "lock", timeout, withManifest ? "yes" : "no", owner.ToFileText(), owner.Instance!, expect, walkEdits ? "walk" : "seal"], cancellationToken);
            if (result.ExitStatus != RemoteScripts.ExitCodes.Locked)
            {
                Check(result, "take the deploy lock");
                var state = RemoteState.Parse(result.Output);
                holding = owner;
                StartHeartbeat();
                return state;
            }
            var waited = time.GetElapsedTime(started);
            if (waited >= options.LockWait)
            {
                var holder = LockOwner.Parse(Lines(result.Output, "@owner")) ?? LockOwner.Unknown;
                var age = RemoteState.Seconds(Lines(result.Output, "@lock-age").LastOrDefault() ?? "");
                throw new ReleaseException(
                    $"{Root} is locked by {holder}, {Alive(age)}; waited {waited.TotalSeconds:0.#} s (--lock-wait). " +
                    $"A lock whose heartbeat is older than --lock-timeout ({Duration(options.LockTimeout)}) is taken over; " +
                    "if that deploy is gone, --target=Unlock --force-unlock for this server removes the lock now.",
                    ReleaseFailure.LockHeld);
            }
            await Task.Delay(Min(options.LockPoll, options.LockWait - waited), time, cancellationToken);
        }
    }

    /// <summary>"alive (heartbeat 3 s ago)", from the server's own measure of the heartbeat's age.</summary>
    private static string Alive(long? age) => age switch
    {
        null => "alive (heartbeat age unknown: the server has no date, or the lock has no owner file)",
        < 0 => $"alive (heartbeat {-age} s in the future by the server's clock)",
        _ => $"alive (heartbeat {age} s ago)",
    };

    private static string Duration(TimeSpan span) =>
        span.TotalSeconds % 60 == 0 ? $"{span.TotalMinutes:0}m" : $"{span.TotalSeconds:0}s";

    /// <summary>The lock's heartbeat: runs while this session holds the lock, over its own connection.</summary>
    private void StartHeartbeat()
    {
        if (heartbeat is { Running: true }) return;
        heartbeat = new LockHeartbeat(BeatAsync, options.LockTimeout, time);
        heartbeat.Start();
    }

    private async Task<BeatOutcome> BeatAsync(CancellationToken cancellationToken)
    {
        if (holding is not { } owner) return BeatOutcome.Lost;
        var beat = owner with { Heartbeat = time.GetUtcNow() };
        var result = await RunAsync(RemoteScripts.Heartbeat, [root, ownerKey, beat.ToFileText()], cancellationToken);
        if (result.ExitStatus == RemoteScripts.ExitCodes.LockLost) return BeatOutcome.Lost;
        Check(result, "renew the lock");
        return BeatOutcome.Renewed;
    }

    /// <summary>Before a step that unlocks: no beat may run while the lock directory is being removed.</summary>
    private async Task StopHeartbeatAsync()
    {
        if (heartbeat is { } running)
        {
            heartbeat = null;
            await running.DisposeAsync();
        }
    }

    /// <summary>
    /// A step that keeps the lock for the health check that follows: the heartbeat goes on until the step that
    /// unlocks (<see cref="ReleaseLockAsync"/>, <see cref="SwitchBackAsync"/>), so a slow check never looks abandoned.
    /// </summary>
    private void KeepBeatingIf(bool holdLock)
    {
        if (holdLock) StartHeartbeat();
    }

    /// <summary>Heartbeats sent while this session held the lock (for tests and the report).</summary>
    public int HeartbeatsSent => heartbeat?.Beats ?? 0;

    /// <summary>The heartbeat found the lock taken by another owner.</summary>
    public bool LockLostByHeartbeat => heartbeat?.Lost ?? false;

    /// <summary>
    /// Stops the heartbeat without waiting (the connection is being dropped) and lets the commands started ahead
    /// end, so that no remote script and no reader is left waiting for a line that never comes.
    /// </summary>
    public void Dispose()
    {
        channels.CancelAll();
        var running = heartbeat;
        heartbeat = null;
        if (running is not null) _ = running.DisposeAsync().AsTask();
    }

    /// <summary>
    /// <see cref="PrepareAsync"/> for a deploy: the upload parts and the switch are started alongside, each waiting
    /// for its arguments line, so neither pays for opening its channel later (<see cref="PendingCommand"/>).
    /// </summary>
    /// <param name="expect">After a reconnect, where current may point: as this deploy found it before, or at this
    /// deploy's own release (an upload that switched and whose reply was lost); the lock is taken again only then
    /// (<see cref="RetakeAsync"/>).</param>
    /// <param name="switchAhead">False when the upload switches itself (<see cref="UploadAsync"/>): no switch command started.</param>
    /// <param name="walkEdits">True: the server lists the files edited since current was sealed now, rather than leaving
    /// them to the upload's seal (after the seal found some, or to prove an unchanged plan).</param>
    public Task<RemoteState> PrepareDeployAsync(CancellationToken cancellationToken, IReadOnlyList<string?>? expect = null, bool switchAhead = true,
        bool walkEdits = false)
    {
        return channels.FirstThenAheadAsync(() => expect is null
            ? PrepareAsync(true, cancellationToken, walkEdits)
            : RetakeAsync(expect, true, cancellationToken, walkEdits), options.UploadStreams, switchAhead);
    }

    public static DeltaPlan Plan(ReleaseCandidate candidate, RemoteState state) =>
        DeltaPlan.Compute(candidate.Manifest, state.CurrentManifest is null ? null : state.CurrentReleaseId, state.CurrentManifest, state.EditedOnServer,
            state.EditsAtSeal);

    /// <summary>
    /// One round trip: streams the delta into releases/.&lt;id&gt;.partial in parallel parts (one channel and one remote
    /// tar each, so that compression, encryption and the server's file creation overlap), verifies (tar's status of
    /// every part, the file count and bytes of the whole tree, each stream's SHA-256 on both ends) and renames it to
    /// releases/&lt;id&gt;. The live release is never touched, unless <paramref name="switchFrom"/> is given: then the part
    /// that seals also switches to it, as <see cref="SwitchAsync"/> would from that state (prune, log line, unlock), which
    /// saves the switch's round trip when nothing waits between the two. Requires the lock (<see cref="PrepareAsync"/>).
    /// </summary>
    public async Task<UploadResult> UploadAsync(ReleaseCandidate candidate, DeltaPlan plan, StreamCompression compression, CancellationToken cancellationToken,
        RemoteState? switchFrom = null)
    {
        var clock = Stopwatch.StartNew();
        var then = switchFrom is null ? "-" : SwitchOrder(candidate, switchFrom, holdLock: false);
        var parts = UploadPart.Split(candidate.Manifest, plan, await channels.UploadStreamsAsync(options.UploadStreams), options.MinFilesPerStream);
        var upload = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var commands = channels.TakeUploads(parts.Count);
        var key = StreamKey(candidate, plan, parts.Count, compression);
        // One failed part fails the upload: the others are stopped rather than streamed to the end.
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = parts.Select(async part =>
        {
            try
            {
                return await UploadPartAsync(commands[part.Index], candidate, plan, part, parts.Count, upload, compression, then, $"{key}/{part.Index}", failed.Token);
            }
            catch
            {
                await failed.CancelAsync();
                throw;
            }
        }).ToList();
        try
        {
            await Task.WhenAll(tasks);
        }
        catch
        {
            // The failure that stopped the upload, not the cancellations it caused in the other parts.
            var causes = tasks.Where(t => t.IsFaulted || t.IsCanceled).Select(t => t.Exception?.InnerException ?? new OperationCanceledException(cancellationToken));
            ExceptionDispatchInfo.Throw(cancellationToken.IsCancellationRequested
                ? causes.FirstOrDefault(e => e is OperationCanceledException) ?? causes.First()
                : causes.FirstOrDefault(e => e is not OperationCanceledException) ?? causes.First());
        }
        var sent = tasks.Select(t => t.Result).ToList();
        if (sent.Count(p => p.Staged) != 1)
            throw new ReleaseException($"The server did not confirm staging {candidate.ReleaseId}: {string.Join(" | ", sent.Select(p => p.Tail))}", ReleaseFailure.Remote);
        SwitchResult? switched = null;
        if (switchFrom is not null)
        {
            // The sealing part switched (and unlocked): the lock's heartbeat has nothing left to keep.
            channels.CancelAll();
            await StopHeartbeatAsync();
            var sealer = sent.Single(p => p.Staged);
            if (!Lines(sealer.Output, "@switched").Contains(candidate.ReleaseId))
                throw new ReleaseException($"The server staged {candidate.ReleaseId} but did not confirm switching to it: {sealer.Tail}", ReleaseFailure.Remote);
            switched = new SwitchResult(candidate.ReleaseId, switchFrom.CurrentReleaseId, Lines(sealer.Output, "@pruned").ToList());
        }
        return new UploadResult(candidate.ReleaseId, plan.Send.Count, plan.Link.Count, plan.Removed, sent.Sum(p => p.Stats.Bytes), plan.BytesToSend,
            sent.All(p => p.HashVerified), parts.Count, clock.Elapsed, compression, switched);
    }

    private sealed record PartResult(StreamStats Stats, bool HashVerified, bool Staged, string Tail, string Output);

    /// <summary>The switch's line (hold or unlock, then the releases to prune) and its log line, from the state the lock read.</summary>
    private string SwitchOrder(ReleaseCandidate candidate, RemoteState state, bool holdLock)
    {
        var id = candidate.ReleaseId;
        var prune = state.PruneList(id, options.KeepReleases, [id], state.CurrentReleaseId);
        var line = run.LogLine(time.GetUtcNow(), "deploy", id, state.CurrentReleaseId, candidate.Info.Commit, "deployed");
        return string.Join(' ', [holdLock ? "hold" : "unlock", .. prune]) + "\n" + line;
    }

    private async Task<PartResult> UploadPartAsync(PendingCommand command, ReleaseCandidate candidate, DeltaPlan plan, UploadPart part, int parts,
        string upload, StreamCompression compression, string then, string key, CancellationToken cancellationToken)
    {
        var stream = new ReleaseStream(candidate, plan.BaseReleaseId, part, compression, time);
        StreamStats? stats = null;
        Exception? writeError = null;
        // With a switch to follow, "then" is the switch's line and, on the next line, its log line.
        var header = string.Join(' ', candidate.ReleaseId, Number(candidate.Manifest.Count), Number(candidate.Manifest.TotalBytes), compression.WireFlag(),
            Number(part.Index), Number(parts), upload, options.Marker?.Path ?? "-", plan.EditsCheckedAtSeal ? plan.BaseReleaseId : "-", then);
        var result = await command.RunAsync(header, async (input, ct) =>
        {
            try
            {
                stats = shared is null ? await stream.WriteAsync(input, ct) : await stream.SendSharedAsync(shared, key, input, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Ending the stream early makes the server refuse the part (the release stays a .partial); the cause is rethrown below.
                writeError = e;
            }
        }, cancellationToken);
        if (writeError is ReleaseException)
            throw writeError;
        Check(result, "upload the release");
        if (writeError is not null || stats is null)
            throw new ReleaseException($"Sending the release to {Root} failed: {writeError?.Message ?? "the stream was not finished"}.", ReleaseFailure.VerifyFailed, writeError);
        var remoteSum = Lines(result.Output, "@stream").LastOrDefault() ?? "-";
        if (remoteSum != "-" && !string.Equals(remoteSum, stats.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new ReleaseException($"The stream received by {Root} hashes to {remoteSum}, not {stats.Sha256} as sent.", ReleaseFailure.VerifyFailed);
        return new PartResult(stats, remoteSum != "-", Lines(result.Output, "@staged").Contains(candidate.ReleaseId), Tail(result), result.Output);
    }

    /// <summary>
    /// The same stream for every server of this deploy with the same plan: the same release linked from, the same files
    /// sent, in the same parts (the arguments line, which names the upload and the marker, is not part of it).
    /// </summary>
    internal static string StreamKey(ReleaseCandidate candidate, DeltaPlan plan, int parts, StreamCompression compression)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var entry in plan.Send)
            hash.AppendData(Encoding.UTF8.GetBytes(entry.Path + "\0"));
        return $"{candidate.ReleaseId}/{plan.BaseReleaseId ?? "-"}/{parts}/{compression.WireFlag()}/{Convert.ToHexStringLower(hash.GetCurrentHash())}";
    }

    /// <summary>
    /// One round trip: atomic switch of current to the uploaded release, prune, log line, unlock; with
    /// <paramref name="holdLock"/> the lock stays (a health check follows; <see cref="ReleaseLockAsync"/> ends it).
    /// </summary>
    public async Task<SwitchResult> SwitchAsync(ReleaseCandidate candidate, RemoteState state, CancellationToken cancellationToken, bool holdLock = false)
    {
        var id = candidate.ReleaseId;
        var order = SwitchOrder(candidate, state, holdLock);
        await StopHeartbeatAsync();
        var command = await channels.TakeSwitchAsync();
        var result = await command.RunAsync(id + " " + order, (_, _) => Task.CompletedTask, cancellationToken);
        Check(result, $"switch current to {id}");
        KeepBeatingIf(holdLock);
        return new SwitchResult(id, state.CurrentReleaseId, Lines(result.Output, "@pruned").ToList());
    }

    /// <summary>One round trip without a switch (an unchanged server): prune, log line, unlock.</summary>
    public async Task<IReadOnlyList<string>> FinishAsync(ReleaseCandidate candidate, RemoteState state, string outcome, CancellationToken cancellationToken)
    {
        channels.CancelAll();
        var prune = state.PruneList(state.CurrentReleaseId, options.KeepReleases);
        var line = run.LogLine(time.GetUtcNow(), "deploy", state.CurrentReleaseId, state.CurrentReleaseId, candidate.Info.Commit, outcome);
        await StopHeartbeatAsync();
        var result = await RunAsync(RemoteScripts.Finish, [root, ownerKey, line, .. prune], cancellationToken);
        Check(result, "finish");
        return Lines(result.Output, "@pruned").ToList();
    }

    /// <summary>
    /// Removes this run's staging directory and its uploaded-but-not-current release, logs the failure, and
    /// unlocks if the lock is still ours. Current is never touched.
    /// </summary>
    public async Task AbortAsync(ReleaseId? releaseId, string reason, CancellationToken cancellationToken)
    {
        channels.CancelAll();
        var line = run.LogLine(time.GetUtcNow(), "deploy", releaseId?.Value, null, null, "failed", reason);
        await StopHeartbeatAsync();
        var result = await RunAsync(RemoteScripts.Abort, [root, ownerKey, releaseId?.Value ?? "-", line], cancellationToken);
        Check(result, "abort");
    }

    /// <summary>Releases this run's lock (and any leftover work directories) without a log line: nothing happened to log.</summary>
    public async Task ReleaseLockAsync(CancellationToken cancellationToken)
    {
        channels.CancelAll();
        await StopHeartbeatAsync();
        Check(await RunAsync(RemoteScripts.Abort, [root, ownerKey, "-", ""], cancellationToken), "release the lock");
    }

    /// <summary>
    /// Rollback: lock + state, then one round trip that switches current to the target (<see cref="RemoteState.RollbackTarget"/>,
    /// or <paramref name="releaseId"/>), marks the release left behind as bad, logs and unlocks.
    /// </summary>
    public async Task<RollbackResult> RollbackAsync(ReleaseId? releaseId, CancellationToken cancellationToken, bool holdLock = false)
    {
        var state = await PrepareAsync(false, cancellationToken);
        try
        {
            var from = state.CurrentReleaseId;
            var to = releaseId?.Value ?? state.RollbackTarget
                ?? throw new ReleaseException($"{Root} has no release to roll back to (current: {from ?? "none"}; releases marked bad: {state.Bad.Count}).", ReleaseFailure.NoRollbackTarget);
            if (!state.Releases.Contains(to))
                throw new ReleaseException($"{Root} has no release {to}; it has {(state.Releases.Count == 0 ? "none" : string.Join(", ", state.Releases))}.", ReleaseFailure.MissingRelease);
            if (to == from)
            {
                await ReleaseLockAsync(cancellationToken);
                return new RollbackResult(from, to, false);
            }
            var line = run.LogLine(time.GetUtcNow(), "rollback", to, from, state.Meta.GetValueOrDefault(to)?.Commit, "rolled-back");
            await StopHeartbeatAsync();
            var result = await RunAsync(RemoteScripts.Rollback, [root, ownerKey, from ?? "-", to, line, holdLock ? "yes" : "no"], cancellationToken);
            Check(result, $"roll back to {to}");
            KeepBeatingIf(holdLock);
            return new RollbackResult(from, to, true);
        }
        catch (Exception e) when (e is not ReleaseException { Kind: ReleaseFailure.LockLost })
        {
            await BestEffortAbortAsync(null, e.Message);
            throw;
        }
    }

    /// <summary>
    /// Undoes this run's switch to <paramref name="from"/> (another server's switch failed under <c>--switch=together</c>):
    /// re-takes the lock, and while current is still <paramref name="from"/> points it back at <paramref name="to"/>
    /// (no current at all when null: there was none before). 2 round trips. True when it switched back.
    /// </summary>
    public async Task<bool> SwitchBackAsync(ReleaseId from, ReleaseId? to, string reason, CancellationToken cancellationToken, bool markBad = false, bool holdLock = false)
    {
        await PrepareAsync(false, cancellationToken);
        var line = run.LogLine(time.GetUtcNow(), "switch-back", to?.Value, from.Value, null, "switched-back", reason);
        await StopHeartbeatAsync();
        var result = await RunAsync(RemoteScripts.SwitchBack, [root, ownerKey, from.Value, to?.Value ?? "-", line, markBad ? "yes" : "no", holdLock ? "yes" : "no"], cancellationToken);
        Check(result, $"switch back to {to?.Value ?? "no release"}");
        KeepBeatingIf(holdLock);
        return Lines(result.Output, "@switched").Any();
    }

    /// <summary>
    /// Removes the lock whoever holds it, unless its heartbeat is younger than --lock-timeout (a deploy that is alive)
    /// and <paramref name="force"/> is not given: then <see cref="ReleaseFailure.LockHeld"/> saying so. Returns the
    /// owner it had (null when there was no lock) and the heartbeat's age by the server's clock.
    /// </summary>
    public async Task<(bool WasLocked, LockOwner? Owner, TimeSpan? HeartbeatAge)> UnlockAsync(bool force, CancellationToken cancellationToken)
    {
        var timeout = ((long)Math.Ceiling(options.LockTimeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var result = await RunAsync(RemoteScripts.Unlock, [root, timeout, force ? "yes" : "no"], cancellationToken);
        var owner = LockOwner.Parse(Lines(result.Output, "@owner"));
        var age = RemoteState.Seconds(Lines(result.Output, "@lock-age").LastOrDefault() ?? "");
        if (result.ExitStatus == RemoteScripts.ExitCodes.LockAlive)
            throw new ReleaseException(
                $"{Root} is locked by {owner ?? LockOwner.Unknown}, {Alive(age)}: that deploy is still running, so the lock was left in place. " +
                $"It is taken over by the next deploy once its heartbeat is older than --lock-timeout ({Duration(options.LockTimeout)}); " +
                "--force-unlock removes it anyway (only when that deploy is surely gone).",
                ReleaseFailure.LockHeld);
        Check(result, "remove the lock");
        return (Lines(result.Output, "@locked").Any(), owner, age is { } a ? TimeSpan.FromSeconds(a) : null);
    }

    private async Task BestEffortAbortAsync(ReleaseId? releaseId, string reason)
    {
        // After a cut connection this fails too; the next attempt of the same run re-takes the lock and cleans up.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await AbortAsync(releaseId, reason, bound.Token);
        }
        catch (Exception)
        {
            // The original failure is what matters.
        }
    }

    // No stdin (the shell gives the script /dev/null): the script runs as soon as it starts, a round trip sooner.
    private Task<RemoteResult> RunAsync(string script, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        shell.RunAsync(script, arguments, null, cancellationToken);

    private void Check(RemoteResult result, string what)
    {
        if (result.Succeeded)
            return;
        var reason = Lines(result.Output, "@fail").LastOrDefault() ?? Tail(result);
        var tar = string.Join("; ", Lines(result.Output, "@tar").Take(5));
        if (tar.Length > 0)
            reason += $" ({tar})";
        throw result.ExitStatus switch
        {
            RemoteScripts.ExitCodes.CurrentNotSymlink => new ReleaseException(
                $"Refusing to deploy to {Root}: {reason}. {Root}/current must be a symlink managed by the deploy; it was left untouched. " +
                $"Move it aside (e.g. mv {Root}/current {Root}/current.old) and deploy again; the web server keeps serving {Root}/current.",
                ReleaseFailure.CurrentNotSymlink),
            RemoteScripts.ExitCodes.NotWritable => new ReleaseException(
                $"Cannot {what} in {Root}: {reason}. The SSH user must own the remote root (e.g. sudo install -d -o <ssh user> {Root}); nothing was changed.",
                ReleaseFailure.NotWritable),
            RemoteScripts.ExitCodes.VerifyFailed => new ReleaseException($"The upload to {Root} did not verify: {reason}.", ReleaseFailure.VerifyFailed),
            RemoteScripts.ExitCodes.MissingRelease => new ReleaseException($"Cannot {what} in {Root}: {reason}.", ReleaseFailure.MissingRelease),
            RemoteScripts.ExitCodes.LockLost => new ReleaseException($"Cannot {what} in {Root}: this run no longer holds {Root}/.deploy/lock.", ReleaseFailure.LockLost),
            RemoteScripts.ExitCodes.Locked => new ReleaseException($"{Root} is locked by another deploy.", ReleaseFailure.LockHeld),
            RemoteScripts.ExitCodes.EditedOnServer => new ReleaseException($"Stopped the upload to {Root} before sealing it: {reason}.", ReleaseFailure.EditedOnServer),
            RemoteScripts.ExitCodes.CurrentChanged => new ReleaseException(
                $"Stopped on {Root}: {reason}. Another deploy switched it while this one was reconnecting; nothing was switched.",
                ReleaseFailure.CurrentChanged),
            _ => new ReleaseException($"Cannot {what} in {Root}: the remote script exited with status {result.ExitStatus}: {reason}", ReleaseFailure.Remote),
        };
    }

    private static IEnumerable<string> Lines(string output, string key) =>
        output.Split('\n').Select(RemoteState.Split).Where(p => p.Key == key).Select(p => p.Value);

    private static string Tail(RemoteResult result)
    {
        var text = (result.Error + "\n" + result.Output).Trim();
        var lines = text.Split('\n');
        return string.Join(" | ", lines.TakeLast(5)).Trim();
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
