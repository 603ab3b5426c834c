using System.Globalization;
using System.Text.Json;
using Build.Settings;

namespace Build.Deployment.Release;

/// <summary>How a prepare got the lock: free, its own (same run and target), or taken over from an abandoned holder.</summary>
public enum LockAcquisition { None, Taken, Retaken, TookOver }

/// <summary>What one round trip learned about a server's release directory.</summary>
public sealed record RemoteState
{
    /// <summary>False when the remote root does not exist yet (only when inspecting without the lock).</summary>
    public bool Exists { get; init; } = true;

    /// <summary>The raw target of <c>&lt;root&gt;/current</c>, when it is a symlink.</summary>
    public string? CurrentLink { get; init; }

    public string? CurrentReleaseId { get; init; }

    /// <summary>Complete releases (valid ids), oldest first.</summary>
    public IReadOnlyList<string> Releases { get; init; } = [];

    /// <summary>Staging directories left by a cut or crashed deploy (removed by the next upload).</summary>
    public IReadOnlyList<string> Partials { get; init; } = [];

    public IReadOnlySet<string> Bad { get; init; } = new HashSet<string>();

    public IReadOnlyDictionary<string, ReleaseMeta> Meta { get; init; } = new Dictionary<string, ReleaseMeta>();

    /// <summary>The lock's owner when the lock is held by someone (inspect), or by us (prepare).</summary>
    public LockOwner? LockOwner { get; init; }

    public bool Locked { get; init; }

    /// <summary>
    /// The lock's heartbeat age, measured by the server on its own clock (now minus the owner file's modification
    /// time); null when the server cannot tell (no owner file, no <c>date</c>). Negative when the file is in the future.
    /// </summary>
    public TimeSpan? LockAge { get; init; }

    public LockAcquisition Lock { get; init; }

    /// <summary>An abandoned lock this prepare took over (heartbeat older than --lock-timeout), to be reported.</summary>
    public LockOwner? BrokenStaleLock { get; init; }

    /// <summary>The heartbeat age of the lock taken over, on the server's clock.</summary>
    public TimeSpan? BrokenLockAge { get; init; }

    /// <summary>
    /// The current release's manifest, from its compact form (<see cref="CompactManifest"/>) or, for a release sealed by
    /// an older deploy, its json; null when there is none or it is unusable (<see cref="ManifestProblem"/>).
    /// </summary>
    public Manifest? CurrentManifest { get; init; }

    /// <summary>Why the current release's stored manifest could not be used (then every file is sent), for a warning.</summary>
    public string? ManifestProblem { get; init; }

    /// <summary>
    /// Files of the current release whose mtime is newer than its seal marker (edited in place on the server), as
    /// <c>ls</c> printed them (a non-printable character may arrive as '?'): they are sent again, never linked.
    /// </summary>
    public IReadOnlyList<string> EditedOnServer { get; init; } = [];

    /// <summary>
    /// The server left finding the edited files to the upload (<c>@edits-at-seal</c>, GNU find): <see cref="EditedOnServer"/>
    /// is not known, and the upload's seal fails with <see cref="ReleaseFailure.EditedOnServer"/> if a linked file was edited.
    /// </summary>
    public bool EditsAtSeal { get; init; }

    public bool CanHashStream { get; init; }

    public bool CanGzip { get; init; }

    /// <summary>The server has a <c>zstd</c> binary: uploads are zstd frames (<see cref="StreamCompressions.Choose(bool, RemoteState)"/>).</summary>
    public bool CanZstd { get; init; }

    /// <summary>Staging directories of crashed or cut runs removed when the lock was taken.</summary>
    public int StaleStagingRemoved { get; init; }

    /// <summary>
    /// The last lines of <c>.deploy/log</c> that made a release current (a deploy or a rollback, not a switch back),
    /// oldest first: (release, the release current before it).
    /// </summary>
    public IReadOnlyList<(string Release, string? From)> Switches { get; init; } = [];

    /// <summary>
    /// The release that was current before the current one, as the deploy log's tail says; if that release is marked
    /// bad or was pruned, or the log does not say, the newest older release not marked bad (<see cref="RollbackTargetNote"/> says why).
    /// </summary>
    public string? RollbackTarget => ResolveRollbackTarget().Target;

    /// <summary>Null when the rollback target is the release current before (from the log); else why it is the fallback.</summary>
    public string? RollbackTargetNote => ResolveRollbackTarget().Note;

    private (string? Target, string? Note) ResolveRollbackTarget()
    {
        var current = CurrentReleaseId;
        if (current is null) return (null, null);
        var fallback = RollbackTargetFor(current);
        var before = Switches.LastOrDefault(s => s.Release == current);
        string why;
        if (before.Release is null) why = "the deploy log does not say which release was current before";
        else if (before.From is not { } from) why = $"the deploy log says {current} was the first release";
        else if (!Releases.Contains(from)) why = $"{from}, current before {current}, was pruned";
        else if (Bad.Contains(from)) why = $"{from}, current before {current}, is marked bad";
        else return (from, null);
        return (fallback, fallback is null ? null : $"fallback to the newest older release not marked bad: {why}");
    }

    /// <summary>The newest release older than <paramref name="current"/> that is not marked bad.</summary>
    public string? RollbackTargetFor(string? current) =>
        current is null ? null : Releases.LastOrDefault(r => string.CompareOrdinal(r, current) < 0 && !Bad.Contains(r));

    /// <summary>
    /// Releases to delete so that <paramref name="keep"/> remain, never the current one nor its rollback target
    /// (as they will be once <paramref name="current"/> is live), nor <paramref name="alsoKeep"/> (the release that was current before a switch).
    /// </summary>
    public IReadOnlyList<string> PruneList(string? current, int keep, IEnumerable<string>? extra = null, string? alsoKeep = null)
    {
        var all = Releases.Concat(extra ?? []).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var target = current is null ? null : all.LastOrDefault(r => string.CompareOrdinal(r, current) < 0 && !Bad.Contains(r));
        var kept = all.TakeLast(Math.Max(1, keep)).ToHashSet(StringComparer.Ordinal);
        // While current stays what it is, its rollback target (which the log may place elsewhere) stays too.
        var logTarget = current == CurrentReleaseId ? RollbackTarget : null;
        return all.Where(r => !kept.Contains(r) && r != current && r != target && r != alsoKeep && r != logTarget).ToList();
    }

    internal static RemoteState Parse(string output)
    {
        var releases = new List<string>();
        var partials = new List<string>();
        var bad = new HashSet<string>(StringComparer.Ordinal);
        var meta = new Dictionary<string, ReleaseMeta>(StringComparer.Ordinal);
        var owner = new List<string>();
        var brokenOwner = new List<string>();
        long? age = null, brokenAge = null;
        var switches = new List<(string, string?)>();
        var edited = new List<string>();
        var sealedMarker = false;
        var editsAtSeal = false;
        string? link = null, current = null, manifestJson = null, manifestCompact = null;
        bool exists = true, locked = false, hash = false, gzip = false, zstd = false, ended = false;
        var acquisition = LockAcquisition.None;
        var cleaned = 0;
        foreach (var line in output.Split('\n'))
        {
            var (key, value) = Split(line);
            switch (key)
            {
                case "@absent": exists = false; break;
                case "@current-link": link = value; break;
                case "@current": current = ServerName.IsReleaseId(value) ? value : null; break;
                case "@locked": locked = true; break;
                case "@owner": owner.Add(value); break;
                case "@lock-age": age = Seconds(value); break;
                case "@broke": brokenOwner.Add(value); break;
                case "@broke-age": brokenAge = Seconds(value); break;
                case "@lock":
                    acquisition = value switch { "retaken" => LockAcquisition.Retaken, "took-over" => LockAcquisition.TookOver, _ => LockAcquisition.Taken };
                    locked = true;
                    break;
                case "@release":
                    if (ServerName.IsReleaseId(value)) releases.Add(value);
                    else if (value.StartsWith('.') && (value.EndsWith(".partial", StringComparison.Ordinal) || value.EndsWith(".deploy", StringComparison.Ordinal))) partials.Add(value);
                    break;
                case "@meta":
                    try
                    {
                        if (JsonSerializer.Deserialize(value, ReleaseJson.Default.ReleaseMeta) is { } m && ServerName.IsReleaseId(m.Release))
                            meta[m.Release] = m;
                    }
                    catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or FormatException or OverflowException)
                    {
                        // A damaged meta file only costs the listing its commit and time.
                    }
                    break;
                case "@bad": if (ServerName.IsReleaseId(value)) bad.Add(value); break;
                case "@manifest": manifestJson = value; break;
                case "@manifest-compact": manifestCompact = value; break;
                case "@sealed": sealedMarker = true; break;
                case "@edits-at-seal": editsAtSeal = true; break;
                case "@edited": edited.Add(value.StartsWith("./", StringComparison.Ordinal) ? value[2..] : value); break;
                case "@cap": hash |= value == "hash"; gzip |= value == "gzip"; zstd |= value == "zstd"; break;
                case "@cleaned": _ = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out cleaned); break;
                case "@log": if (LogSwitch(value) is { } sw) switches.Add(sw); break;
                case "@end": ended = true; break;
            }
        }
        if (!ended)
            throw new ReleaseException("The server's answer to the state query was cut short.", ReleaseFailure.Remote);
        Manifest? manifest = null;
        string? problem = null;
        if ((manifestCompact ?? manifestJson) is not null && current is not null && releases.Contains(current))
        {
            try
            {
                var (m, release) = manifestCompact is not null ? CompactManifest.Decode(manifestCompact) : Json(manifestJson!);
                if (release != current)
                    problem = $"the stored manifest of {current} names another release";
                else if (manifestCompact is not null && meta.GetValueOrDefault(current)?.Hash != m.Hash)
                    // Written with the json and the meta in one seal: a compact manifest that disagrees with its release's
                    // meta (or one without a meta) is stale or damaged, and proves nothing.
                    problem = $"the compact manifest of {current} does not match its release's recorded hash";
                else if (!sealedMarker)
                    // Nothing proves its files unchanged since it was staged (sealed before seal markers, or no find).
                    problem = $"{current} has no seal marker (sealed by an older deploy, or the server lacks find), so its files cannot be proven unchanged";
                else
                    manifest = m;
            }
            catch (Exception e) when (e is JsonException or FormatException or ArgumentException or OverflowException or NotSupportedException or InvalidOperationException)
            {
                // A corrupt manifest (duplicate paths, a bad mode, a wrong hash) is no manifest: no delta, everything is sent.
                problem = $"the stored manifest of {current} is unusable ({ServerText.Clean(e.Message.Split('\n')[0], 200)})";
            }
        }
        releases.Sort(StringComparer.Ordinal);
        return new RemoteState
        {
            Exists = exists,
            CurrentLink = link,
            CurrentReleaseId = current,
            Releases = releases,
            Partials = partials,
            Bad = bad,
            Meta = meta,
            Locked = locked,
            LockOwner = Release.LockOwner.Parse(owner),
            Lock = acquisition,
            LockAge = age is { } a ? TimeSpan.FromSeconds(a) : null,
            BrokenStaleLock = acquisition == LockAcquisition.TookOver ? Release.LockOwner.Parse(brokenOwner) ?? Release.LockOwner.Unknown : null,
            BrokenLockAge = brokenAge is { } b ? TimeSpan.FromSeconds(b) : null,
            CurrentManifest = manifest,
            ManifestProblem = problem,
            EditedOnServer = manifest is null ? [] : edited,
            EditsAtSeal = manifest is not null && editsAtSeal,
            CanHashStream = hash,
            CanGzip = gzip,
            CanZstd = zstd,
            StaleStagingRemoved = cleaned,
            Switches = switches,
        };
    }

    private static (Manifest, string) Json(string json)
    {
        var (manifest, info) = Manifest.FromJson(json);
        return (manifest, info.ReleaseId);
    }

    /// <summary>
    /// A log line (tab-separated; tabs arrive as spaces once cleaned) that made its release current: a deploy that
    /// switched or a rollback. Switch-backs restore what was there and say nothing about what came before it.
    /// </summary>
    private static (string, string?)? LogSwitch(string line)
    {
        string? release = null, from = null, outcome = null;
        foreach (var field in line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (field.StartsWith("release=", StringComparison.Ordinal)) release ??= field[8..];
            else if (field.StartsWith("from=", StringComparison.Ordinal)) from ??= field[5..];
            else if (field.StartsWith("outcome=", StringComparison.Ordinal)) outcome ??= field[8..];
        }
        if (release is null || !ServerName.IsReleaseId(release) || outcome is not ("deployed" or "rolled-back")) return null;
        return (release, from is not null && ServerName.IsReleaseId(from) ? from : null);
    }

    /// <summary>A signed whole number of seconds within a century, else nothing (server text is not trusted).</summary>
    internal static long? Seconds(string value) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s) && Math.Abs(s) < 3_155_760_000 ? s : null;

    internal static (string Key, string Value) Split(string line)
    {
        if (!line.StartsWith('@'))
            return ("", line);
        var space = line.IndexOf(' ');
        return space < 0 ? (line, "") : (line[..space], line[(space + 1)..]);
    }
}
