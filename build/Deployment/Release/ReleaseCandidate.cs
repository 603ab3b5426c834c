using Build.Processes;
using Build.Settings;

namespace Build.Deployment.Release;

/// <summary>
/// The release of one run: the site's manifest, computed once and shared by every server, and its id
/// (<c>yyyyMMddTHHmmssZ-xxxxxxxx</c>: UTC time, then the first 8 hex digits of the manifest hash; sortable).
/// </summary>
public sealed class ReleaseCandidate
{
    public ReleaseCandidate(string siteDirectory, Manifest manifest, ReleaseInfo info)
    {
        if (!ServerName.IsReleaseId(info.ReleaseId))
            throw new ArgumentException($"not a release id: {info.ReleaseId}", nameof(info));
        var full = Path.GetFullPath(siteDirectory);
        // Resolved, so that a symlink in the site is checked against the same root that Manifest.Scan used.
        SiteDirectory = SiteFile.RealPath(full) ?? full;
        Manifest = manifest;
        Info = info;
        // Written at the end of the upload's first part: computed then, not on the way to the lock (~0.1 s at 1800 files).
        _manifestJson = new(() => manifest.ToJson(info) + "\n");
        _compactManifest = new(() => Release.CompactManifest.Encode(manifest, info.ReleaseId) + "\n");
        MetaJson = System.Text.Json.JsonSerializer.Serialize(
            new ReleaseMeta(info.ReleaseId, info.Commit, info.CreatedAt, manifest.Hash, manifest.Count, manifest.TotalBytes),
            ReleaseJson.Default.ReleaseMeta) + "\n";
    }

    private readonly Lazy<string> _manifestJson;
    private readonly Lazy<string> _compactManifest;

    public string SiteDirectory { get; }

    public Manifest Manifest { get; }

    public ReleaseInfo Info { get; }

    public string ReleaseId => Info.ReleaseId;

    /// <summary>Stored remotely as .deploy/manifests/&lt;id&gt;.json (one line).</summary>
    public string ManifestJson => _manifestJson.Value;

    /// <summary>
    /// Stored remotely as .deploy/manifests/&lt;id&gt;.compact (one line, <see cref="Release.CompactManifest"/>): what the
    /// next deploy downloads to compute its delta instead of the json.
    /// </summary>
    public string CompactManifest => _compactManifest.Value;

    /// <summary>Stored remotely as .deploy/manifests/&lt;id&gt;.meta (one line), read by listings.</summary>
    public string MetaJson { get; }

    public static string NewReleaseId(DateTimeOffset now, string manifestHash) =>
        $"{now.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}-{manifestHash[..8]}";

    public static Task<ReleaseCandidate> CreateAsync(string siteDirectory, string? commit, TimeProvider time, CancellationToken cancellationToken) =>
        CreateAsync(Manifest.Scan(siteDirectory), commit, time, cancellationToken);

    /// <summary>Hashes a scanned site (<see cref="Manifest.Scan"/>, which the deploy runs before touching any server).</summary>
    public static async Task<ReleaseCandidate> CreateAsync(SiteScan scan, string? commit, TimeProvider time, CancellationToken cancellationToken)
    {
        var manifest = await Manifest.CreateAsync(scan, cancellationToken);
        var now = time.GetUtcNow();
        return new ReleaseCandidate(scan.Root, manifest, new ReleaseInfo(NewReleaseId(now, manifest.Hash), commit, now));
    }

    /// <summary>The commit stored with a release: CI_COMMIT_SHA, else <c>git rev-parse HEAD</c>, else none.</summary>
    public static async Task<string?> ResolveCommitAsync(IProcessRunner processes, string repository, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        if (environment("CI_COMMIT_SHA") is { Length: > 0 } sha)
            return sha.Trim();
        try
        {
            var result = await processes.RunAsync(new ProcessSpec("git", ["rev-parse", "HEAD"]) { WorkingDirectory = repository, Timeout = TimeSpan.FromSeconds(10) }, cancellationToken);
            return result.Succeeded && result.Output.Trim() is { Length: > 0 } head ? head : null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null; // no git: the release simply records no commit
        }
    }
}
