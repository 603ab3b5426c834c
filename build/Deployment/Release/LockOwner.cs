using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Build.Settings;

namespace Build.Deployment.Release;

/// <summary>
/// Who holds <c>&lt;root&gt;/.deploy/lock</c>: one (run, target) pair. The owner file is <c>key=value</c> lines so
/// that the remote <c>sh</c> can compare the owner with builtins only. <see cref="Since"/> and <see cref="Heartbeat"/>
/// are the client's clock, for people to read; whether the lock is alive is judged by the server alone, from the
/// owner file's modification time against its own clock (<see cref="RemoteState.LockAge"/>).
/// </summary>
/// <param name="Instance">This holding's nonce: the takeover renames <c>held.&lt;nonce&gt;</c>, so exactly one waiter wins it.</param>
public sealed partial record LockOwner(string RunId, string? Target, string? Host, int? Pid, string? JobUrl, DateTimeOffset? Since,
    DateTimeOffset? Heartbeat = null, string? Instance = null)
{
    public string ToFileText()
    {
        var text = new StringBuilder();
        text.Append("run=").Append(RunId).Append('\n');
        text.Append("target=").Append(OneLine(Target)).Append('\n');
        text.Append("host=").Append(OneLine(Host)).Append('\n');
        text.Append("pid=").Append(Pid?.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("job=").Append(OneLine(JobUrl)).Append('\n');
        text.Append("time=").Append(Since?.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("beat=").Append(Heartbeat?.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("lock=").Append(Instance).Append('\n');
        return text.ToString();
    }

    /// <summary>A lock whose owner file is missing its run id or cannot be read: never taken over automatically.</summary>
    public static LockOwner Unknown { get; } = new("(unknown)", null, null, null, null, null);

    public bool IsUnknown => ReferenceEquals(this, Unknown) || RunId == Unknown.RunId;

    /// <summary>What the remote scripts compare to decide whether a lock is this session's: <c>run/target</c>.</summary>
    public string Key => $"{RunId}/{Target}";

    /// <summary>
    /// Reads the owner file's lines. Whatever the server holds there, this never throws: a file without a usable run
    /// id is <see cref="Unknown"/>, a field that does not parse (an absurd time, a pid out of range) is left out, and
    /// free text is cleaned and cut short.
    /// </summary>
    public static LockOwner? Parse(IEnumerable<string> lines)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines.Take(64))
        {
            var eq = line.IndexOf('=');
            if (eq > 0)
                values[line[..eq]] = line[(eq + 1)..];
        }
        if (!values.TryGetValue("run", out var run) || !IsValidRunId(run))
            return values.Count == 0 ? null : Unknown;
        return new LockOwner(
            run,
            values.GetValueOrDefault("target") is { } t && ServerName.IsValid(t) ? t : null,
            Text(values.GetValueOrDefault("host")),
            int.TryParse(values.GetValueOrDefault("pid"), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null,
            Text(values.GetValueOrDefault("job")),
            Time(values.GetValueOrDefault("time")),
            Time(values.GetValueOrDefault("beat")),
            values.GetValueOrDefault("lock") is { } n && IsValidInstance(n) ? n : null);
    }

    // DateTimeOffset's own limit (year 9999); anything later is not a time a run recorded.
    private const long MaxUnixSeconds = 253402300799;

    private static DateTimeOffset? Time(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var t) && t <= MaxUnixSeconds ? DateTimeOffset.FromUnixTimeSeconds(t) : null;

    /// <summary>Age by the client's clock against the recorded start: for display only, never to judge staleness.</summary>
    public TimeSpan? Age(DateTimeOffset now) => Since is { } since ? now - since : null;

    public override string ToString()
    {
        if (IsUnknown) return "an unknown owner";
        var parts = new List<string> { $"run {RunId}" };
        if (Target is not null) parts.Add($"target {Target}");
        if (Host is not null) parts.Add($"host {Host}");
        if (Pid is not null) parts.Add($"pid {Pid}");
        if (JobUrl is not null) parts.Add($"job {JobUrl}");
        if (Since is { } s) parts.Add($"since {s.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z");
        return string.Join(", ", parts);
    }

    /// <summary>Run ids go on the remote command line, so they are restricted to a safe alphabet.</summary>
    public static bool IsValidRunId(string runId) => RunIdPattern().IsMatch(runId);

    /// <summary>A nonce names a file in the lock directory: lower-case hex only.</summary>
    public static bool IsValidInstance(string instance) => InstancePattern().IsMatch(instance);

    /// <summary>A fresh nonce for one holding of the lock.</summary>
    public static string NewInstance() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));

    private static string? Text(string? value) => string.IsNullOrEmpty(value) ? null : ServerText.Clean(value, 200);

    private static string OneLine(string? value) => value is null ? "" : value.Replace('\n', ' ').Replace('\r', ' ');

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex RunIdPattern();

    [GeneratedRegex("^[0-9a-f]{8,32}$")]
    private static partial Regex InstancePattern();
}
