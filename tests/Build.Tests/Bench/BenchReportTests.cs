using System.Text.Json;
using Bench;

namespace Build.Tests.Bench;

public sealed class BenchReportTests
{
    private static readonly TimeSpan Rtt = TimeSpan.FromMilliseconds(40);

    [Fact]
    public void Median_takes_the_middle_or_the_mean_of_the_two_middles()
    {
        Assert.Equal(2.0, Stats.Median([3.0, 1.0, 2.0]));
        Assert.Equal(2.5, Stats.Median([4.0, 1.0, 3.0, 2.0]));
        Assert.Equal(7.0, Stats.Median([7.0]));
        Assert.Throws<ArgumentException>(() => Stats.Median([]));
    }

    [Fact]
    public void Ratio_is_against_the_baseline_and_absent_without_one()
    {
        Assert.Equal(0.5, Stats.Ratio(1.0, 2.0));
        Assert.Null(Stats.Ratio(1.0, null));
        Assert.Null(Stats.Ratio(1.0, 0));
    }

    [Fact]
    public void Extra_round_trips_is_the_added_time_over_one_rtt()
    {
        // 1.6 s at 40 ms, 2.0 s at 80 ms: 0.4 s more = 10 round trips of 40 ms.
        Assert.Equal(10.0, Stats.ExtraRoundTrips(1.6, 2.0, Rtt), precision: 9);
        Assert.Equal(0.0, Stats.ExtraRoundTrips(1.2, 1.2, Rtt));
        Assert.Throws<ArgumentOutOfRangeException>(() => Stats.ExtraRoundTrips(1, 2, TimeSpan.Zero));
    }

    [Fact]
    public void Summary_takes_medians_and_the_ratio_to_rsync_sequential_of_the_same_scenario_and_server_count()
    {
        var rows = BenchReport.Summarise(
        [
            ("cold", 1, "rsync-sequential", [new(2.0, 100, 10, 8000), new(1.0, 300, 30, 9000), new(3.0, 200, 20, 7000)]),
            ("cold", 1, "deploy", [new(0.5, 50, 5, 51200)]),
            ("cold", 4, "deploy", [new(0.8, 50, 5, 51200)]),
        ], Rtt);

        var rsync = rows[0];
        Assert.Equal(("cold", "rsync-sequential", 1, 40.0, 3), (rsync.Scenario, rsync.Contender, rsync.Servers, rsync.RttMs, rsync.Runs));
        Assert.Equal(2.0, rsync.MedianSeconds);
        Assert.Equal(200, rsync.BytesUp);
        Assert.Equal(20, rsync.BytesDown);
        Assert.Equal(Math.Round(9000 / 1024.0, 1), rsync.PeakRssMb);
        Assert.Equal(1.0, rsync.RatioVsRsync);
        Assert.Equal(0.25, rows[1].RatioVsRsync);
        Assert.Equal(50.0, rows[1].PeakRssMb);
        Assert.Null(rows[2].RatioVsRsync); // no rsync-sequential at 4 servers
    }

    [Fact]
    public void Json_is_an_array_of_objects_with_exactly_the_issue_fields()
    {
        var rows = BenchReport.Summarise([("rebuild", 4, "deploy", [new(1.23456, 1000, 200, 102400, 2.3456)])], Rtt);
        using var json = JsonDocument.Parse(BenchReport.ToJson(rows));

        var row = Assert.Single(json.RootElement.EnumerateArray());
        Assert.Equal(
            ["scenario", "contender", "servers", "rtt_ms", "runs", "median_s", "cpu_s", "bytes_up", "bytes_down", "peak_rss_mb", "ratio_vs_rsync", "ratio_vs_rsync_parallel", "phases",
             "requests", "failed", "broken_views"],
            row.EnumerateObject().Select(p => p.Name));
        Assert.All(["requests", "failed", "broken_views"], name => Assert.Equal(JsonValueKind.Null, row.GetProperty(name).ValueKind)); // no readers outside during-deploy
        Assert.Equal(JsonValueKind.Null, row.GetProperty("phases").ValueKind); // no run reported phases
        Assert.Equal("rebuild", row.GetProperty("scenario").GetString());
        Assert.Equal("deploy", row.GetProperty("contender").GetString());
        Assert.Equal(4, row.GetProperty("servers").GetInt32());
        Assert.Equal(40, row.GetProperty("rtt_ms").GetDouble());
        Assert.Equal(1, row.GetProperty("runs").GetInt32());
        Assert.Equal(1.235, row.GetProperty("median_s").GetDouble());
        Assert.Equal(1000, row.GetProperty("bytes_up").GetInt64());
        Assert.Equal(200, row.GetProperty("bytes_down").GetInt64());
        Assert.Equal(100.0, row.GetProperty("peak_rss_mb").GetDouble());
        Assert.Equal(JsonValueKind.Null, row.GetProperty("ratio_vs_rsync").ValueKind);
        Assert.Equal(2.346, row.GetProperty("cpu_s").GetDouble());
        Assert.Equal(JsonValueKind.Null, row.GetProperty("ratio_vs_rsync_parallel").ValueKind);
    }

    [Fact]
    public void Deploy_rows_carry_the_median_of_each_phase_read_from_the_deploys_timing_file()
    {
        var one = BenchPhases.FromDeployTiming("""{"start":0.5,"check":0.2,"hash":0.1,"connect":0.3,"lock":0.1,"upload":1.0,"switch":0.05,"total":2.4}""");
        var two = BenchPhases.FromDeployTiming("""{"start":0.7,"check":null,"hash":0.1,"connect":0.5,"lock":0.2,"upload":2.0,"switch":0.07,"total":3.0}""");
        var three = BenchPhases.FromDeployTiming("""{"start":0.6,"check":0.4,"hash":0.3,"connect":0.4,"lock":0.3,"upload":3.0,"switch":0.06}""");

        var rows = BenchReport.Summarise(
        [
            ("cold", 1, "deploy", [new(1, 1, 1, 1024, 1, one), new(1, 1, 1, 1024, 1, two), new(1, 1, 1, 1024, 1, three)]),
            ("cold", 1, "rsync-sequential", [new(1, 1, 1, 1024)]),
        ], Rtt);

        Assert.Equal(new BenchPhases(0.6, 0.3, 0.1, 0.4, 0.2, 2.0, 0.06), rows[0].Phases); // check: the two runs that reported it
        Assert.Null(rows[1].Phases);
        using var json = JsonDocument.Parse(BenchReport.ToJson(rows));
        var phases = json.RootElement[0].GetProperty("phases");
        Assert.Equal(["start", "check", "hash", "connect", "lock", "upload", "switch"], phases.EnumerateObject().Select(p => p.Name));
        Assert.Contains("phases: start 0.60, check 0.30, hash 0.10, connect 0.40, lock 0.20, upload 2.00, switch 0.06", BenchReport.Table(rows));
    }

    [Fact]
    public void Each_row_also_has_its_ratio_to_rsync_parallel_and_its_median_cpu_time()
    {
        var rows = BenchReport.Summarise(
        [
            ("cold", 4, "rsync-parallel", [new(2.0, 1, 1, 1024, 3.0)]),
            ("cold", 4, "deploy", [new(1.0, 1, 1, 1024, 1.0), new(3.0, 1, 1, 1024, 2.0), new(1.5, 1, 1, 1024, 5.0)]),
        ], Rtt);

        Assert.Equal(1.0, rows[0].RatioVsRsyncParallel);
        Assert.Equal(0.75, rows[1].RatioVsRsyncParallel);
        Assert.Equal(2.0, rows[1].CpuSeconds);
        Assert.Null(rows[1].RatioVsRsync);
    }

    [Fact]
    public void Table_has_one_section_per_scenario_with_the_ratio()
    {
        var rows = BenchReport.Summarise(
        [
            ("cold", 1, "rsync-sequential", [new(2.0, 1, 1, 1024)]),
            ("cold", 1, "deploy", [new(1.0, 1, 1, 1024)]),
            ("rebuild", 1, "rsync-sequential", [new(2.0, 1, 1, 1024)]),
        ], Rtt);
        var table = BenchReport.Table(rows);
        Assert.Contains("Scenario: cold", table, StringComparison.Ordinal);
        Assert.Contains("Scenario: rebuild", table, StringComparison.Ordinal);
        Assert.Matches(@"deploy\s+1\s+1\.000\s+0\.00\s+1\s+1\s+1\.0\s+0\.50x\s+-", table);
    }

    [Fact]
    public void Deploy_time_is_read_from_the_task_s_closing_line()
    {
        Assert.Equal(1.234, DeployContender.ParseDeployedSeconds("connecting\nDeployed release 20261126-001500-ab12 to 4 servers in 1.234 s (connect to last switch)\n"));
        Assert.Equal(2.0, DeployContender.ParseDeployedSeconds("Deployed release r1 to 1 server in 2 s (connect to last switch)"));
        Assert.Equal(0.87, DeployContender.ParseDeployedSeconds("\u001b[37;1mDeployed release \u001b[36mr2\u001b[37;1m to \u001b[36m4\u001b[37;1m servers in \u001b[36m0.87\u001b[37;1m s (connect to last switch)\u001b[0m"));
        Assert.Null(DeployContender.ParseDeployedSeconds("Task Deploy failed"));
    }

    [Fact]
    public void The_deploy_target_is_found_by_its_row_not_by_a_description_mentioning_it()
    {
        const string without = "  Task     Description\n  Bench    Deploy benchmark against rsync\n           Deploy is timed\n  Test     Runs the tests\n";
        const string with = "  Task     Description\n  Bench    Deploy benchmark\n  Deploy   Deploys the site\n";
        Assert.False(DeployContender.ListsDeployTask(without));
        Assert.True(DeployContender.ListsDeployTask(with));
    }
}
