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

    public static LockOwner? Parse(IEnumerable<string> lines)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var eq = line.IndexOf('=');
            if (eq > 0)
                values[line[..eq]] = line[(eq + 1)..];
        }
        if (!values.TryGetValue("run", out var run) || run.Length == 0)
            return values.Count == 0 ? null : new LockOwner("(unknown)", null, null, null, null);
        return new LockOwner(
            run,
            Empty(values.GetValueOrDefault("host")),
            int.TryParse(values.GetValueOrDefault("pid"), CultureInfo.InvariantCulture, out var pid) ? pid : null,
            Empty(values.GetValueOrDefault("job")),
            long.TryParse(values.GetValueOrDefault("time"), CultureInfo.InvariantCulture, out var t) ? DateTimeOffset.FromUnixTimeSeconds(t) : null);
    }

    public TimeSpan? Age(DateTimeOffset now) => Since is { } since ? now - since : null;

    public override string ToString()
    {
        var parts = new List<string> { $"run {RunId}" };
        if (Host is not null) parts.Add($"host {Host}");
        if (Pid is not null) parts.Add($"pid {Pid}");
        if (JobUrl is not null) parts.Add($"job {JobUrl}");
        if (Since is { } s) parts.Add($"since {s.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z");
        return string.Join(", ", parts);
    }

    /// <summary>Run ids go on the remote command line, so they are restricted to a safe alphabet.</summary>
    public static bool IsValidRunId(string runId) => RunIdPattern().IsMatch(runId);

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string OneLine(string? value) => value is null ? "" : value.Replace('\n', ' ').Replace('\r', ' ');

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex RunIdPattern();
}
