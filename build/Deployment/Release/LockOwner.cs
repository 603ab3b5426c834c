using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Build.Deployment.Release;

/// <summary>
/// Who holds <c>&lt;root&gt;/.deploy/lock</c>: the owner file is <c>key=value</c> lines so that the remote
/// <c>sh</c> can compare the run id with builtins only.
/// </summary>
public sealed partial record LockOwner(string RunId, string? Host, int? Pid, string? JobUrl, DateTimeOffset? Since)
{
    public string ToFileText()
    {
        var text = new StringBuilder();
        text.Append("run=").Append(RunId).Append('\n');
        text.Append("host=").Append(OneLine(Host)).Append('\n');
        text.Append("pid=").Append(Pid?.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append("job=").Append(OneLine(JobUrl)).Append('\n');
        text.Append("time=").Append(Since?.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)).Append('\n');
        return text.ToString();
    }

    /// <summary>A lock whose owner file is missing its run id or cannot be read: never stale, never broken automatically.</summary>
    public static LockOwner Unknown { get; } = new("(unknown)", null, null, null, null);

    public bool IsUnknown => ReferenceEquals(this, Unknown) || RunId == Unknown.RunId;

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
            Text(values.GetValueOrDefault("host")),
            int.TryParse(values.GetValueOrDefault("pid"), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null,
            Text(values.GetValueOrDefault("job")),
            long.TryParse(values.GetValueOrDefault("time"), NumberStyles.None, CultureInfo.InvariantCulture, out var t) && t <= MaxUnixSeconds
                ? DateTimeOffset.FromUnixTimeSeconds(t)
                : null);
    }

    // DateTimeOffset's own limit (year 9999); anything later is not a time a run recorded.
    private const long MaxUnixSeconds = 253402300799;

    public TimeSpan? Age(DateTimeOffset now) => Since is { } since ? now - since : null;

    public override string ToString()
    {
        if (IsUnknown) return "an unknown owner";
        var parts = new List<string> { $"run {RunId}" };
        if (Host is not null) parts.Add($"host {Host}");
        if (Pid is not null) parts.Add($"pid {Pid}");
        if (JobUrl is not null) parts.Add($"job {JobUrl}");
        if (Since is { } s) parts.Add($"since {s.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z");
        return string.Join(", ", parts);
    }

    /// <summary>Run ids go on the remote command line, so they are restricted to a safe alphabet.</summary>
    public static bool IsValidRunId(string runId) => RunIdPattern().IsMatch(runId);

    private static string? Text(string? value) => string.IsNullOrEmpty(value) ? null : ServerText.Clean(value, 200);

    private static string OneLine(string? value) => value is null ? "" : value.Replace('\n', ' ').Replace('\r', ' ');

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex RunIdPattern();
}
