using System.Text.Json;
using System.Text.Json.Serialization;
using TestHosts;

namespace Bench;

/// <summary>
/// One row of artifacts/bench.json. <c>median_s</c> is the whole process's wall time, exec to exit, for
/// every contender; <c>cpu_s</c> the median CPU time (user and system) of the contender's processes.
/// <c>requests</c>, <c>failed</c> and <c>broken_views</c> are what the readers of the during-deploy scenario saw,
/// summed over its runs (null in the other scenarios).
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
    [property: JsonPropertyName("ratio_vs_rsync_parallel")] double? RatioVsRsyncParallel,
    [property: JsonPropertyName("phases")] BenchPhases? Phases = null,
    [property: JsonPropertyName("requests")] long? Requests = null,
    [property: JsonPropertyName("failed")] long? Failed = null,
    [property: JsonPropertyName("broken_views")] long? BrokenViews = null);

/// <summary>One measured run of a contender; <paramref name="Phases"/> only for deploy.</summary>
public sealed record RunMeasure(double Seconds, long BytesUp, long BytesDown, long PeakRssKb, double CpuSeconds = 0, BenchPhases? Phases = null);

/// <summary>
/// Where a deploy's time went, in seconds, from the deploy's own artifacts/deploy-timing.json: start (exec to
/// the first real work: host, assembly loading, settings), check (the site check, or verifying the build's
/// record), hash (the site's manifest; it runs beside the check), and the server phases connect, lock (lock
/// and read the server's state), upload (to verified) and switch. Server phases span the first server
/// entering to the last leaving, so at several servers they overlap.
/// </summary>
public sealed record BenchPhases(
    [property: JsonPropertyName("start")] double? Start,
    [property: JsonPropertyName("check")] double? Check,
    [property: JsonPropertyName("hash")] double? Hash,
    [property: JsonPropertyName("connect")] double? Connect,
    [property: JsonPropertyName("lock")] double? Lock,
    [property: JsonPropertyName("upload")] double? Upload,
    [property: JsonPropertyName("switch")] double? Switch)
{
    /// <summary>Reads the deploy's timing file (its keys are these, and a total the bench does not need).</summary>
    public static BenchPhases FromDeployTiming(string json)
    {
        using var doc = JsonDocument.Parse(json);
        double? Get(string name) =>
            doc.RootElement.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
        return new BenchPhases(Get("start"), Get("check"), Get("hash"), Get("connect"), Get("lock"), Get("upload"), Get("switch"));
    }

    /// <summary>The median of each phase over the runs that reached it; null when no run reported phases.</summary>
    public static BenchPhases? Median(IReadOnlyList<BenchPhases?> runs)
    {
        var reported = runs.OfType<BenchPhases>().ToArray();
        if (reported.Length == 0) return null;
        double? Of(Func<BenchPhases, double?> phase) =>
            reported.Select(phase).OfType<double>().ToArray() is { Length: > 0 } values ? Math.Round(Stats.Median(values), 3) : null;
        return new BenchPhases(Of(p => p.Start), Of(p => p.Check), Of(p => p.Hash), Of(p => p.Connect), Of(p => p.Lock), Of(p => p.Upload), Of(p => p.Switch));
    }
}

public static class BenchReport
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>
    /// Folds the runs of each (scenario, servers, contender) into a row: median time and CPU time, median
    /// bytes, largest peak memory, and the ratios to rsync-sequential and rsync-parallel of the same
    /// scenario and server count. A group with readers (<paramref name="loads"/>, the during-deploy scenario) carries their
    /// counts, summed over its runs: one failed request in any run shows.
    /// </summary>
    public static IReadOnlyList<BenchResult> Summarise(IEnumerable<(string Scenario, int Servers, string Contender, IReadOnlyList<RunMeasure> Runs)> groups, TimeSpan rtt,
        IReadOnlyDictionary<(string Scenario, int Servers, string Contender), IReadOnlyList<LoadCounts>>? loads = null)
    {
        var rows = groups.Select(g => new BenchResult(
            g.Scenario, g.Contender, g.Servers, Math.Round(rtt.TotalMilliseconds, 3),
            loads?.GetValueOrDefault((g.Scenario, g.Servers, g.Contender))?.Count ?? g.Runs.Count,
            Math.Round(Stats.Median(g.Runs.Select(r => r.Seconds).ToArray()), 3),
            Math.Round(Stats.Median(g.Runs.Select(r => r.CpuSeconds).ToArray()), 3),
            (long)Stats.Median(g.Runs.Select(r => (double)r.BytesUp).ToArray()),
            (long)Stats.Median(g.Runs.Select(r => (double)r.BytesDown).ToArray()),
            Math.Round(g.Runs.Max(r => r.PeakRssKb) / 1024.0, 1),
            null, null,
            BenchPhases.Median(g.Runs.Select(r => r.Phases).ToArray())) is var row
            && loads?.GetValueOrDefault((g.Scenario, g.Servers, g.Contender)) is { } load
            && load.Aggregate(LoadCounts.None, (a, b) => a + b) is var total
                ? row with { Requests = total.Requests, Failed = total.Failed, BrokenViews = total.BrokenViews }
                : row).ToList();
        double? RatioTo(BenchResult row, string contender)
        {
            var baseline = rows.FirstOrDefault(b => b.Scenario == row.Scenario && b.Servers == row.Servers && b.Contender == contender);
            return Stats.Ratio(row.MedianSeconds, baseline?.MedianSeconds) is { } x ? Math.Round(x, 3) : null;
        }
        return rows.Select(r => r with { RatioVsRsync = RatioTo(r, "rsync-sequential"), RatioVsRsyncParallel = RatioTo(r, "rsync-parallel") }).ToArray();
    }

    private static string Ratio(double? ratio) => ratio is { } x ? x.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) + "x" : "-";

    private static string Seconds(double? s) => s is { } x ? x.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) : "-";

    private static string Count(long? n) => n is { } x ? x.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : "-";

    public static string ToJson(IReadOnlyList<BenchResult> rows) => JsonSerializer.Serialize(rows, Json);

    /// <summary>One table per scenario, rows by server count then contender.</summary>
    public static string Table(IReadOnlyList<BenchResult> rows)
    {
        var w = new StringWriter();
        foreach (var scenario in rows.Select(r => r.Scenario).Distinct())
        {
            w.WriteLine();
            var section = rows.Where(r => r.Scenario == scenario).ToArray();
            // Readers' columns only where there were readers (during-deploy): its seconds are per deploy, its counts totals.
            var readers = section.Any(r => r.Requests is not null);
            w.WriteLine(readers
                ? $"Scenario: {scenario} (rtt {rows[0].RttMs} ms, median seconds of one deploy; readers' counts over all {section[0].Runs} run(s))"
                : $"Scenario: {scenario} (rtt {rows[0].RttMs} ms, median of {rows[0].Runs} runs)");
            w.WriteLine($"  {"contender",-17} {"servers",7} {"median s",9} {"cpu s",7} {"bytes up",12} {"bytes down",12} {"peak MB",8} {"vs rsync",9} {"vs rsync-par",12}"
                + (readers ? $" {"requests",10} {"failed",8} {"broken views",12}" : ""));
            foreach (var r in section)
            {
                w.WriteLine(FormattableString.Invariant(
                    $"  {r.Contender,-17} {r.Servers,7} {r.MedianSeconds,9:0.000} {r.CpuSeconds,7:0.00} {r.BytesUp,12:N0} {r.BytesDown,12:N0} {r.PeakRssMb,8:0.0} {Ratio(r.RatioVsRsync),9} {Ratio(r.RatioVsRsyncParallel),12}")
                    + (readers ? FormattableString.Invariant($" {Count(r.Requests),10} {Count(r.Failed),8} {Count(r.BrokenViews),12}") : ""));
                if (r.Phases is { } p)
                    w.WriteLine(FormattableString.Invariant(
                        $"  {"",-17} phases: start {Seconds(p.Start)}, check {Seconds(p.Check)}, hash {Seconds(p.Hash)}, connect {Seconds(p.Connect)}, lock {Seconds(p.Lock)}, upload {Seconds(p.Upload)}, switch {Seconds(p.Switch)}"));
            }
        }
        return w.ToString();
    }
}
