using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bench;

/// <summary>
/// One row of artifacts/bench.json. <c>median_s</c> is the whole process's wall time, exec to exit, for
/// every contender; <c>cpu_s</c> the median CPU time (user and system) of the contender's processes.
/// </summary>
public sealed record BenchResult(
    [property: JsonPropertyName("scenario")] string Scenario,
    [property: JsonPropertyName("contender")] string Contender,
    [property: JsonPropertyName("servers")] int Servers,
    [property: JsonPropertyName("rtt_ms")] double RttMs,
    [property: JsonPropertyName("runs")] int Runs,
    [property: JsonPropertyName("median_s")] double MedianSeconds,
    [property: JsonPropertyName("cpu_s")] double CpuSeconds,
    [property: JsonPropertyName("bytes_up")] long BytesUp,
    [property: JsonPropertyName("bytes_down")] long BytesDown,
    [property: JsonPropertyName("peak_rss_mb")] double PeakRssMb,
    [property: JsonPropertyName("ratio_vs_rsync")] double? RatioVsRsync,
    [property: JsonPropertyName("ratio_vs_rsync_parallel")] double? RatioVsRsyncParallel);

/// <summary>One measured run of a contender.</summary>
public sealed record RunMeasure(double Seconds, long BytesUp, long BytesDown, long PeakRssKb, double CpuSeconds = 0);

public static class BenchReport
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>
    /// Folds the runs of each (scenario, servers, contender) into a row: median time and CPU time, median
    /// bytes, largest peak memory, and the ratios to rsync-sequential and rsync-parallel of the same
    /// scenario and server count.
    /// </summary>
    public static IReadOnlyList<BenchResult> Summarise(IEnumerable<(string Scenario, int Servers, string Contender, IReadOnlyList<RunMeasure> Runs)> groups, TimeSpan rtt)
    {
        var rows = groups.Select(g => new BenchResult(
            g.Scenario, g.Contender, g.Servers, Math.Round(rtt.TotalMilliseconds, 3), g.Runs.Count,
            Math.Round(Stats.Median(g.Runs.Select(r => r.Seconds).ToArray()), 3),
            Math.Round(Stats.Median(g.Runs.Select(r => r.CpuSeconds).ToArray()), 3),
            (long)Stats.Median(g.Runs.Select(r => (double)r.BytesUp).ToArray()),
            (long)Stats.Median(g.Runs.Select(r => (double)r.BytesDown).ToArray()),
            Math.Round(g.Runs.Max(r => r.PeakRssKb) / 1024.0, 1),
            null, null)).ToList();
        double? RatioTo(BenchResult row, string contender)
        {
            var baseline = rows.FirstOrDefault(b => b.Scenario == row.Scenario && b.Servers == row.Servers && b.Contender == contender);
            return Stats.Ratio(row.MedianSeconds, baseline?.MedianSeconds) is { } x ? Math.Round(x, 3) : null;
        }
        return rows.Select(r => r with { RatioVsRsync = RatioTo(r, "rsync-sequential"), RatioVsRsyncParallel = RatioTo(r, "rsync-parallel") }).ToArray();
    }

    private static string Ratio(double? ratio) => ratio is { } x ? x.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) + "x" : "-";

    public static string ToJson(IReadOnlyList<BenchResult> rows) => JsonSerializer.Serialize(rows, Json);

    /// <summary>One table per scenario, rows by server count then contender.</summary>
    public static string Table(IReadOnlyList<BenchResult> rows)
    {
        var w = new StringWriter();
        foreach (var scenario in rows.Select(r => r.Scenario).Distinct())
        {
            w.WriteLine();
            w.WriteLine($"Scenario: {scenario} (rtt {rows[0].RttMs} ms, median of {rows[0].Runs} runs)");
            w.WriteLine($"  {"contender",-17} {"servers",7} {"median s",9} {"cpu s",7} {"bytes up",12} {"bytes down",12} {"peak MB",8} {"vs rsync",9} {"vs rsync-par",12}");
            foreach (var r in rows.Where(r => r.Scenario == scenario))
                w.WriteLine(FormattableString.Invariant(
                    $"  {r.Contender,-17} {r.Servers,7} {r.MedianSeconds,9:0.000} {r.CpuSeconds,7:0.00} {r.BytesUp,12:N0} {r.BytesDown,12:N0} {r.PeakRssMb,8:0.0} {Ratio(r.RatioVsRsync),9} {Ratio(r.RatioVsRsyncParallel),12}"));
        }
        return w.ToString();
    }
}
