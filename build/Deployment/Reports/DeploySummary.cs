using System.Globalization;
using System.Text;

namespace Build.Deployment.Reports;

/// <summary>The end-of-run table and, when servers failed, the command that retries only those.</summary>
public static class DeploySummary
{
    public static string Table(DeployReport report)
    {
        string[] header = ["server", "release", "sent", "linked", "removed", "bytes", "seconds", "outcome"];
        var rows = report.Servers.Select(s => new[]
        {
            s.Server,
            s.ReleaseId ?? "-",
            s.FilesSent.ToString(CultureInfo.InvariantCulture),
            s.FilesLinked.ToString(CultureInfo.InvariantCulture),
            s.FilesRemoved.ToString(CultureInfo.InvariantCulture),
            Progress.PlainProgress.Bytes(s.BytesSent),
            s.Seconds.ToString("0.0", CultureInfo.InvariantCulture),
            s.Outcome.Text(),
        }).ToList();
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var text = new StringBuilder();
        void Line(IReadOnlyList<string> cells) =>
            text.AppendLine(string.Join("  ", cells.Select((c, i) => i is >= 2 and <= 6 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd());
        Line(header);
        Line(widths.Select(w => new string('-', w)).ToArray());
        rows.ForEach(Line);
        foreach (var missed in report.NotReached.Where(s => s.Error is not null))
            text.AppendLine($"{missed.Server}: {missed.Error}");
        return text.ToString();
    }

    /// <summary>"1 server", "2 servers".</summary>
    public static string Count(int n, string noun) => Count(n, noun, noun + "s");

    public static string Count(int n, string noun, string plural) => n == 1 ? $"1 {noun}" : $"{n} {plural}";

    /// <summary>
    /// The deploy's first line. "Deployed release X to N servers" only when every one of the N serves X (or already
    /// served its content); otherwise which server serves which release.
    /// </summary>
    public static string Headline(DeployReport report, TimeSpan elapsed)
    {
        var seconds = elapsed.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
        var servers = report.Servers;
        var deployed = servers.Count(s => s.Outcome == Outcome.Deployed);
        var unchanged = servers.Where(s => s.Outcome == Outcome.Unchanged).ToList();
        if (servers.Count > 0 && deployed + unchanged.Count == servers.Count)
        {
            return deployed > 0
                ? $"Deployed release {report.ReleaseId} to {Count(servers.Count, "server")} in {seconds} s (connect to last switch)"
                : $"Nothing to deploy: {Count(unchanged.Count, "server")} already serve{(unchanged.Count == 1 ? "s" : "")} this content ({string.Join(", ", unchanged.Select(s => s.ReleaseId).Distinct())}); checked in {seconds} s";
        }
        var serving = deployed + unchanged.Count;
        return $"Release {report.ReleaseId ?? "-"} is served by {serving} of {Count(servers.Count, "server")}: " +
            string.Join("; ", servers.Select(Serves)) + $" ({seconds} s)";
    }

    /// <summary>What one server serves after the run, as far as the run knows.</summary>
    public static string Serves(ServerReport s) => s.Outcome switch
    {
        Outcome.Deployed or Outcome.Unchanged or Outcome.RolledBack => $"{s.Server} serves {s.ReleaseId}",
        Outcome.Failed => $"{s.Server} {(s.PreviousReleaseId is { } p ? $"serves {p}" : "serves what it served before")} (failed)",
        _ => $"{s.Server} serves {s.ReleaseId ?? "no release"} ({s.Outcome.Text()})",
    };

    /// <summary>The failure's message: who failed, and the command that retries exactly the servers left behind.</summary>
    public static string FailureMessage(DeployReport report, string target, IEnumerable<KeyValuePair<string, string>> options)
    {
        var text = new StringBuilder($"{target} failed on {string.Join(", ", report.Failed.Select(s => s.Server))}.");
        foreach (var missing in report.Failed.Where(s => s.FailureKind is Release.ReleaseFailure.MissingRelease))
            text.Append($" {missing.Server} does not have that release: ./build.sh --target=Releases --server={missing.Server} lists the ones it has.");
        var servers = RetryServers(report);
        if (RetryCommand(report, target, options) is { } retry)
            text.Append($" To retry the {Count(servers.Count, "server")} not serving {(target == "Deploy" ? "the new release" : "the wanted release")} ({string.Join(", ", servers)}): {retry}");
        return text.ToString();
    }

    /// <summary>
    /// The servers a retry should name: every one that does not serve what the run wanted (failed, held back,
    /// switched back), except those where the same command cannot succeed (a release the server does not have).
    /// </summary>
    public static IReadOnlyList<string> RetryServers(DeployReport report) =>
        report.NotReached.Where(s => s.FailureKind is not Release.ReleaseFailure.MissingRelease).Select(s => s.Server).ToList();

    /// <summary>
    /// The exact command that repeats the run for <see cref="RetryServers"/> only: every option the run was given
    /// (<paramref name="options"/>, in their order) except the target and the server selection, which it replaces.
    /// </summary>
    public static string? RetryCommand(DeployReport report, string target, IEnumerable<KeyValuePair<string, string>> options)
    {
        var servers = RetryServers(report);
        if (servers.Count == 0) return null;
        var repeated = options
            .Where(o => !IsSelection(o.Key))
            .Select(o => Shell($"--{o.Key}={o.Value}"));
        var args = new[] { "./build.sh", $"--target={target}" }.Concat(repeated).Append(Shell($"--server={string.Join(',', servers)}"));
        return string.Join(' ', args);
    }

    private static bool IsSelection(string name) =>
        name.Equals("target", StringComparison.OrdinalIgnoreCase) || name.Equals("t", StringComparison.OrdinalIgnoreCase)
        || name.Equals("server", StringComparison.OrdinalIgnoreCase);

    /// <summary>One word for sh: quoted only when it needs to be, so the common case stays readable.</summary>
    public static string Shell(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_=.,:/@+%".Contains(c))
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
