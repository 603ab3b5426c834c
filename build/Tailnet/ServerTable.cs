using System.Text;
using Build.Deployment;

namespace Build.Tailnet;

/// <summary>The servers as a plain text table (server, host name, address, tags, online).</summary>
public static class ServerTable
{
    /// <param name="onlineChecked">False for <c>--hosts</c> entries: nothing looks at them before the deploy connects.</param>
    public static string Format(IReadOnlyList<DeployTarget> targets, bool onlineChecked = true)
    {
        string[] header = ["server", "host name", "address", "tags", "online"];
        var rows = targets.Select(t => new[]
        {
            t.Name,
            t.HostName ?? "-",
            t.Port is { } port ? $"{t.Address}:{port}" : t.Address,
            t.Tags.Count == 0 ? "-" : string.Join(",", t.Tags),
            !onlineChecked ? "not checked" : t.Online ? "yes" : "no (unavailable)",
        }).Prepend(header).ToArray();
        var widths = Enumerable.Range(0, header.Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            text.AppendJoin("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).Append('\n');
        }
        return text.ToString().TrimEnd('\n');
    }
}
