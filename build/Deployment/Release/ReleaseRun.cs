using System.Globalization;

namespace Build.Deployment.Release;

/// <summary>
/// Who is deploying: one per pipeline run, shared by all servers. <see cref="RunId"/> is what the lock owner
/// file records, so a retry of the same run takes its own lock again.
/// </summary>
public sealed record ReleaseRun(string RunId, string Host, int Pid, string Who, string? JobUrl, string? PipelineUrl)
{
    public static ReleaseRun FromEnvironment(Func<string, string?> environment)
    {
        var job = environment("CI_JOB_ID");
        var suffix = Guid.NewGuid().ToString("N")[..12];
        var runId = job is { Length: > 0 } && job.All(char.IsAsciiDigit) ? $"ci-{job}-{suffix}" : $"run-{suffix}";
        var who = environment("GITLAB_USER_LOGIN") ?? environment("USER") ?? Environment.UserName;
        return new ReleaseRun(runId, Environment.MachineName, Environment.ProcessId, who, environment("CI_JOB_URL"), environment("CI_PIPELINE_URL"));
    }

    /// <summary>The lock owner file of this run deploying to <paramref name="target"/>, started and last renewed <paramref name="now"/>.</summary>
    public LockOwner Owner(DateTimeOffset now, string target, string instance) => new(RunId, target, Host, Pid, JobUrl, now, now, instance);

    /// <summary>One line of .deploy/log: tab-separated key=value fields after the time and the operation.</summary>
    public string LogLine(DateTimeOffset now, string operation, string? release, string? from, string? commit, string outcome, string? detail = null)
    {
        var fields = new List<string>
        {
            now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            operation,
            $"release={release ?? "-"}",
            $"from={from ?? "-"}",
            $"commit={commit ?? "-"}",
            $"outcome={outcome}",
            $"who={Who}@{Host}",
            $"pipeline={PipelineUrl ?? JobUrl ?? "-"}",
            $"run={RunId}",
        };
        if (detail is not null)
            fields.Add($"error={detail}");
        return string.Join('\t', fields.Select(f => f.Replace('\n', ' ').Replace('\r', ' ').Replace('\t', ' ')));
    }
}

/// <summary>How a session behaves: from the settings --keep-releases, --lock-timeout, --lock-wait.</summary>
public sealed record ReleaseOptions
{
    public int KeepReleases { get; init; } = 5;

    /// <summary>
    /// A lock whose heartbeat (renewed every quarter of this) is older than this, on the server's clock, is abandoned:
    /// the next deploy takes it over (and reports it), see README.
    /// </summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long to wait for another run's lock before failing.</summary>
    public TimeSpan LockWait { get; init; } = TimeSpan.FromMinutes(2);

    public TimeSpan LockPoll { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>zstd when the server has zstd, else gzip when it has gzip, at levels chosen by measurement while uploading (<see cref="CompressionGovernor"/>, README).</summary>
    public bool Compress { get; init; } = true;

    /// <summary>
    /// Parallel streams of an upload. The server's file creation is what a cold deploy waits for (mkdir and open
    /// cost far more than the bytes); two remote tars on two channels halve it on a 2-core server (README).
    /// </summary>
    public int UploadStreams { get; init; } = 2;

    /// <summary>A second stream only pays off above this many files per stream.</summary>
    public int MinFilesPerStream { get; init; } = 200;

    /// <summary>The file the server writes into each release before the switch, holding its id (null: none).</summary>
    public Health.ReleaseMarker? Marker { get; init; } = Health.ReleaseMarker.Default;

    public static ReleaseOptions From(Settings.DeploySettings settings) => new()
    {
        KeepReleases = settings.KeepReleases,
        LockTimeout = settings.LockTimeout,
        LockWait = settings.LockWait,
    };
}
