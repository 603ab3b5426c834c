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
    TimeSpan Elapsed);

public sealed record SwitchResult(string ReleaseId, string? PreviousReleaseId, IReadOnlyList<string> Pruned);

public sealed record RollbackResult(string? From, string To, bool Changed);

public enum DeployOutcome { Deployed, Unchanged }

/// <param name="StaleStagingRemoved">Staging directories of crashed or cut runs that taking the lock removed.</param>
public sealed record DeployResult(DeployOutcome Outcome, string ReleaseId, string? PreviousReleaseId, DeltaPlan Plan, UploadResult? Upload, SwitchResult? Switch, int StaleStagingRemoved);

/// <summary>
/// The release protocol on one server, in stages so that the fan-out can hold every server between upload
/// and switch (<c>--switch=together</c>):
/// <list type="number">
/// <item><see cref="PrepareDeployAsync"/>: lock + state + current manifest (1 round trip; more only while waiting for another run's lock),
/// with the upload and switch commands started alongside.</item>
/// <item><see cref="UploadAsync"/>: stage, extract, verify, rename to releases/&lt;id&gt; (1 round trip, whatever the number of files;
/// the parts of the upload run side by side on their own channels).</item>
/// <item><see cref="SwitchAsync"/>: switch + prune + log + unlock (1 round trip); or <see cref="FinishAsync"/> for an unchanged server;
/// or <see cref="AbortAsync"/> to remove this run's staging and unlock.</item>
/// </list>
/// <see cref="InspectAsync"/> reads the same state without the lock and changes nothing (plan, listing).
/// </summary>
public sealed class ReleaseSession
{
    private readonly IRemoteShell shell;
    private readonly ReleaseRun run;
    private readonly ReleaseOptions options;
    private readonly TimeProvider time;
    private readonly Queue<PendingCommand> pendingParts = new();
    private PendingCommand? pendingSwitch;

    // The server refused a channel (sshd MaxSessions): from then on one command at a time, the upload in one stream.
    private bool fewSessions;

    public ReleaseSession(IRemoteShell shell, string remoteRoot, ReleaseRun run, ReleaseOptions options, TimeProvider time)
    {
        ValidateRoot(remoteRoot);
        if (!LockOwner.IsValidRunId(run.RunId))
            throw new ArgumentException($"run id {run.RunId} has characters the remote command line does not accept", nameof(run));
        // Every reply is cleaned and bounded before it is parsed: what a server sends can fail a step, never the client.
        this.shell = shell as CleaningShell ?? new CleaningShell(shell);
        Root = remoteRoot.TrimEnd('/');
        this.run = run;
        this.options = options;
        this.time = time;
    }

    public string Root { get; }

    /// <summary>The remote root's rules (<see cref="RemoteRoot"/>); a bad one is a settings error.</summary>
    public static void ValidateRoot(string root)
    {
        if (RemoteRoot.Parse(root, out var problem) is null)
            throw new SettingsException($"--remote-root \"{root}\": {problem}. Give an absolute path other than \"/\", without \".\", \"..\" or empty segments (DEPLOY_ROOT or deploy.json \"remote-root\").");
    }

    /// <summary>State without taking the lock; changes nothing on the server.</summary>
    public async Task<RemoteState> InspectAsync(bool withManifest, CancellationToken cancellationToken)
    {
        var result = await RunAsync(RemoteScripts.Prepare, [Root, run.RunId, "look", "-", withManifest ? "yes" : "no", ""], cancellationToken);
        Check(result, "read the release state");
        return RemoteState.Parse(result.Output);
    }

    /// <summary>
    /// Takes the lock (the same run re-takes its own) and reads the state. Another run's lock is waited for up to
    /// <see cref="ReleaseOptions.LockWait"/>, polling; a lock older than <see cref="ReleaseOptions.LockTimeout"/> is stale
    /// and broken (reported in <see cref="RemoteState.BrokenStaleLock"/>).
    /// </summary>
    public async Task<RemoteState> PrepareAsync(bool withManifest, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var breakRun = "-";
        LockOwner? stale = null;
        while (true)
        {
            var now = time.GetUtcNow();
            var result = await RunAsync(RemoteScripts.Prepare, [Root, run.RunId, "lock", breakRun, withManifest ? "yes" : "no", run.Owner(now).ToFileText()], cancellationToken);
            if (result.ExitStatus != RemoteScripts.ExitCodes.Locked)
            {
                Check(result, "take the deploy lock");
                var state = RemoteState.Parse(result.Output);
                return stale is not null && state.BrokenStaleLock is not null ? state with { BrokenStaleLock = stale } : state;
            }
            var owner = LockOwner.Parse(Lines(result.Output, "@owner")) ?? LockOwner.Unknown;
            if (owner.Age(now) is { } age && age > options.LockTimeout && owner.RunId != breakRun && LockOwner.IsValidRunId(owner.RunId))
            {
                stale = owner;
                breakRun = owner.RunId; // break only that owner's lock, so a fresh one taken meanwhile is kept
                continue;
            }
            var waited = time.GetElapsedTime(started);
            if (waited >= options.LockWait)
                throw new ReleaseException(
                    $"{Root} is locked by another deploy ({owner}); waited {waited.TotalSeconds:0.#}s. " +
                    "If that deploy is no longer running, remove the lock with --target=Unlock for this server.",
                    ReleaseFailure.LockHeld);
            await Task.Delay(Min(options.LockPoll, options.LockWait - waited), time, cancellationToken);
        }
    }

    /// <summary>
    /// <see cref="PrepareAsync"/> for a deploy: the upload parts and the switch are started alongside, each waiting
    /// for its arguments line, so neither pays for opening its channel later (<see cref="PendingCommand"/>).
    /// </summary>
    public async Task<RemoteState> PrepareDeployAsync(CancellationToken cancellationToken)
    {
        CancelPending();
        for (var i = 0; i < Math.Max(1, options.UploadStreams); i++)
            pendingParts.Enqueue(Start(RemoteScripts.Upload));
        pendingSwitch = Start(RemoteScripts.Switch);
        try
        {
            return await PrepareAsync(true, cancellationToken);
        }
        catch (ChannelRefusedException)
        {
            // The commands started ahead took the sessions the server allows: the lock goes first, alone.
            await EndPendingAsync();
            fewSessions = true;
            return await PrepareAsync(true, cancellationToken);
        }
        catch
        {
            CancelPending();
            throw;
        }
    }

    /// <summary>An Upload or Switch command, started now and waiting for its arguments line.</summary>
    private PendingCommand Start(string script) => new(shell, script, [Root, run.RunId]);

    /// <summary>Ends every command started ahead and waits until their channels are closed.</summary>
    private Task EndPendingAsync() => Task.WhenAll(TakePending().Select(p => p.EndAsync()));

    /// <summary>Lets the commands started ahead and not used end without doing anything.</summary>
    private void CancelPending()
    {
        foreach (var pending in TakePending()) pending.Cancel();
    }

    private List<PendingCommand> TakePending()
    {
        var all = pendingParts.Concat(pendingSwitch is null ? [] : [pendingSwitch]).ToList();
        pendingParts.Clear();
        pendingSwitch = null;
        return all;
    }

    public static DeltaPlan Plan(ReleaseCandidate candidate, RemoteState state) =>
        DeltaPlan.Compute(candidate.Manifest, state.CurrentManifest is null ? null : state.CurrentReleaseId, state.CurrentManifest);

    /// <summary>
    /// One round trip: streams the delta into releases/.&lt;id&gt;.partial in parallel parts (one channel and one remote
    /// tar each, so that compression, encryption and the server's file creation overlap), verifies (tar's status of
    /// every part, the file count and bytes of the whole tree, each stream's SHA-256 on both ends) and renames it to
    /// releases/&lt;id&gt;. The live release is never touched. Requires the lock (<see cref="PrepareAsync"/>).
    /// </summary>
    public async Task<UploadResult> UploadAsync(ReleaseCandidate candidate, DeltaPlan plan, bool gzip, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        foreach (var started in pendingParts)
            fewSessions |= await started.RefusedAsync();
        if (fewSessions)
            await EndPendingAsync();
        var parts = UploadPart.Split(candidate.Manifest, plan, fewSessions ? 1 : options.UploadStreams, options.MinFilesPerStream);
        var upload = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var commands = parts.Select(_ => pendingParts.TryDequeue(out var started) ? started : Start(RemoteScripts.Upload)).ToList();
        while (pendingParts.TryDequeue(out var unused)) unused.Cancel();
        // One failed part fails the upload: the others are stopped rather than streamed to the end.
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = parts.Select(async part =>
        {
            try
            {
                return await UploadPartAsync(commands[part.Index], candidate, plan.BaseReleaseId, part, parts.Count, upload, gzip, failed.Token);
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
        return new UploadResult(candidate.ReleaseId, plan.Send.Count, plan.Link.Count, plan.Removed, sent.Sum(p => p.Stats.Bytes), plan.BytesToSend,
            sent.All(p => p.HashVerified), parts.Count, clock.Elapsed);
    }

    private sealed record PartResult(StreamStats Stats, bool HashVerified, bool Staged, string Tail);

    private async Task<PartResult> UploadPartAsync(PendingCommand command, ReleaseCandidate candidate, string? baseReleaseId, UploadPart part, int parts,
        string upload, bool gzip, CancellationToken cancellationToken)
    {
        var stream = new ReleaseStream(candidate, baseReleaseId, part, gzip);
        StreamStats? stats = null;
        Exception? writeError = null;
        var header = string.Join(' ', candidate.ReleaseId, Number(candidate.Manifest.Count), Number(candidate.Manifest.TotalBytes), gzip ? "z" : "-",
            Number(part.Index), Number(parts), upload, options.Marker?.Path ?? "-");
        var result = await command.RunAsync(header, async (input, ct) =>
        {
            try
            {
                stats = await stream.WriteAsync(input, ct);
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
        return new PartResult(stats, remoteSum != "-", Lines(result.Output, "@staged").Contains(candidate.ReleaseId), Tail(result));
    }

    /// <summary>
    /// One round trip: atomic switch of current to the uploaded release, prune, log line, unlock; with
    /// <paramref name="holdLock"/> the lock stays (a health check follows; <see cref="ReleaseLockAsync"/> ends it).
    /// </summary>
    public async Task<SwitchResult> SwitchAsync(ReleaseCandidate candidate, RemoteState state, CancellationToken cancellationToken, bool holdLock = false)
    {
        var id = candidate.ReleaseId;
        var prune = state.PruneList(id, options.KeepReleases, [id], state.CurrentReleaseId);
        var line = run.LogLine(time.GetUtcNow(), "deploy", id, state.CurrentReleaseId, candidate.Info.Commit, "deployed");
        var command = pendingSwitch is { } started && !await started.RefusedAsync() ? started : Start(RemoteScripts.Switch);
        pendingSwitch = null;
        var result = await command.RunAsync(string.Join(' ', [id, holdLock ? "hold" : "unlock", .. prune]), (input, ct) => input.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), ct).AsTask(), cancellationToken);
        Check(result, $"switch current to {id}");
        return new SwitchResult(id, state.CurrentReleaseId, Lines(result.Output, "@pruned").ToList());
    }

    /// <summary>One round trip without a switch (an unchanged server): prune, log line, unlock.</summary>
    public async Task<IReadOnlyList<string>> FinishAsync(ReleaseCandidate candidate, RemoteState state, string outcome, CancellationToken cancellationToken)
    {
        CancelPending();
        var prune = state.PruneList(state.CurrentReleaseId, options.KeepReleases);
        var line = run.LogLine(time.GetUtcNow(), "deploy", state.CurrentReleaseId, state.CurrentReleaseId, candidate.Info.Commit, outcome);
        var result = await RunAsync(RemoteScripts.Finish, [Root, run.RunId, line, .. prune], cancellationToken);
        Check(result, "finish");
        return Lines(result.Output, "@pruned").ToList();
    }

    /// <summary>
    /// Removes this run's staging directory and its uploaded-but-not-current release, logs the failure, and
    /// unlocks if the lock is still ours. Current is never touched.
    /// </summary>
    public async Task AbortAsync(string? releaseId, string reason, CancellationToken cancellationToken)
    {
        if (releaseId is not null && !ServerName.IsReleaseId(releaseId))
            throw new ArgumentException($"not a release id: {releaseId}", nameof(releaseId));
        CancelPending();
        var line = run.LogLine(time.GetUtcNow(), "deploy", releaseId, null, null, "failed", reason);
        var result = await RunAsync(RemoteScripts.Abort, [Root, run.RunId, releaseId ?? "-", line], cancellationToken);
        Check(result, "abort");
    }

    /// <summary>
    /// Rollback: lock + state, then one round trip that switches current to the target (the newest older release not
    /// marked bad, or <paramref name="releaseId"/>), marks the release left behind as bad, logs and unlocks.
    /// </summary>
    public async Task<RollbackResult> RollbackAsync(string? releaseId, CancellationToken cancellationToken, bool holdLock = false)
    {
        if (releaseId is not null && !ServerName.IsReleaseId(releaseId))
            throw new SettingsException($"--release \"{releaseId}\" is not a release id (yyyyMMddTHHmmssZ-xxxxxxxx); list them with --target=Releases.");
        var state = await PrepareAsync(false, cancellationToken);
        try
        {
            var from = state.CurrentReleaseId;
            var to = releaseId ?? state.RollbackTarget
                ?? throw new ReleaseException($"{Root} has no release to roll back to (current: {from ?? "none"}; releases marked bad: {state.Bad.Count}).", ReleaseFailure.NoRollbackTarget);
            if (!state.Releases.Contains(to))
                throw new ReleaseException($"{Root} has no release {to}; it has {(state.Releases.Count == 0 ? "none" : string.Join(", ", state.Releases))}.", ReleaseFailure.MissingRelease);
            if (to == from)
            {
                await RunAsync(RemoteScripts.Abort, [Root, run.RunId, "-", ""], cancellationToken);
                return new RollbackResult(from, to, false);
            }
            var line = run.LogLine(time.GetUtcNow(), "rollback", to, from, state.Meta.GetValueOrDefault(to)?.Commit, "rolled-back");
            var result = await RunAsync(RemoteScripts.Rollback, [Root, run.RunId, from ?? "-", to, line, holdLock ? "yes" : "no"], cancellationToken);
            Check(result, $"roll back to {to}");
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
    public async Task<bool> SwitchBackAsync(string from, string? to, string reason, CancellationToken cancellationToken, bool markBad = false, bool holdLock = false)
    {
        if (!ServerName.IsReleaseId(from) || (to is not null && !ServerName.IsReleaseId(to)))
            throw new ArgumentException($"not release ids: {from}, {to}");
        await PrepareAsync(false, cancellationToken);
        var line = run.LogLine(time.GetUtcNow(), "switch-back", to, from, null, "switched-back", reason);
        var result = await RunAsync(RemoteScripts.SwitchBack, [Root, run.RunId, from, to ?? "-", line, markBad ? "yes" : "no", holdLock ? "yes" : "no"], cancellationToken);
        Check(result, $"switch back to {to ?? "no release"}");
        return Lines(result.Output, "@switched").Any();
    }

    /// <summary>Ends a lock this run held past its switch (the health check is over): one round trip, nothing else changes.</summary>
    public async Task ReleaseLockAsync(CancellationToken cancellationToken)
    {
        var result = await RunAsync(RemoteScripts.Finish, [Root, run.RunId, ""], cancellationToken);
        Check(result, "release the deploy lock");
    }

    /// <summary>Removes the lock whoever holds it, returning the owner it had (null when there was no lock).</summary>
    public async Task<(bool WasLocked, LockOwner? Owner)> UnlockAsync(CancellationToken cancellationToken)
    {
        var result = await RunAsync(RemoteScripts.Unlock, [Root], cancellationToken);
        Check(result, "remove the lock");
        return (Lines(result.Output, "@locked").Any(), LockOwner.Parse(Lines(result.Output, "@owner")));
    }

    /// <summary>All stages for one server with an immediate switch (<c>--switch=independent</c>, tests); aborts on failure.</summary>
    public async Task<DeployResult> DeployAsync(ReleaseCandidate candidate, CancellationToken cancellationToken)
    {
        var state = await PrepareDeployAsync(cancellationToken);
        var uploaded = false;
        try
        {
            var plan = Plan(candidate, state);
            if (plan.Unchanged)
            {
                await FinishAsync(candidate, state, "unchanged", cancellationToken);
                return new DeployResult(DeployOutcome.Unchanged, state.CurrentReleaseId!, state.CurrentReleaseId, plan, null, null, state.StaleStagingRemoved);
            }
            uploaded = true;
            var upload = await UploadAsync(candidate, plan, options.Compress && state.CanGzip, cancellationToken);
            var switched = await SwitchAsync(candidate, state, cancellationToken);
            return new DeployResult(DeployOutcome.Deployed, candidate.ReleaseId, state.CurrentReleaseId, plan, upload, switched, state.StaleStagingRemoved);
        }
        catch (Exception e)
        {
            await BestEffortAbortAsync(uploaded ? candidate.ReleaseId : null, e.Message);
            throw;
        }
    }

    private async Task BestEffortAbortAsync(string? releaseId, string reason)
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
