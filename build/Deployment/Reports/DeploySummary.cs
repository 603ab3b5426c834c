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
            s.Outcome,
        }).ToList();
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var text = new StringBuilder();
        void Line(IReadOnlyList<string> cells) =>
            text.AppendLine(string.Join("  ", cells.Select((c, i) => i is >= 2 and <= 6 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd());
        Line(header);
        Line(widths.Select(w => new string('-', w)).ToArray());
        rows.ForEach(Line);
        foreach (var failed in report.Failed)
            text.AppendLine($"{failed.Server}: {failed.Error}");
        return text.ToString();
    }

    /// <summary>The exact command that redeploys (or rolls back) only the failed servers.</summary>
    public static string? RetryCommand(DeployReport report, string target, IEnumerable<string> extraArguments)
    {
        var failed = report.Failed.Select(s => s.Server).ToArray();
        if (failed.Length == 0) return null;
        var args = new[] { "./build.sh", $"--target={target}", $"--server={string.Join(',', failed)}" }.Concat(extraArguments);
        return string.Join(' ', args);
    }
}
