using Bench;

namespace Build.Tests.Bench;

public sealed class BenchOptionsTests
{
    [Fact]
    public void Defaults_match_the_issue()
    {
        var o = BenchOptions.Parse([]);
        Assert.Equal(1000, o.Posts);
        Assert.Equal(4, o.Servers);
        Assert.Equal(TimeSpan.FromMilliseconds(40), o.Rtt);
        Assert.Null(o.BandwidthBytesPerSecond);
        Assert.Equal(3, o.Runs);
        Assert.Equal(["deploy", "rsync-sequential", "rsync-parallel", "tar-ssh"], o.Contenders);
        Assert.Equal(["cold", "rebuild", "cold-capped", "rebuild-capped"], o.Scenarios); // during-deploy only when asked for
        Assert.Equal(["cold", "rebuild", "cold-capped", "rebuild-capped", "during-deploy"], BenchOptions.AllScenarios);
        Assert.Equal(20_000_000 / 8, o.UplinkBytesPerSecond); // one 20 Mbit/s uplink shared by all servers
    }

    [Theory]
    [InlineData("cold", false, false)]
    [InlineData("rebuild", true, false)]
    [InlineData("cold-capped", false, true)]
    [InlineData("rebuild-capped", true, true)]
    public void Capped_scenarios_are_their_base_scenario_through_the_shared_uplink(string scenario, bool rebuild, bool capped)
    {
        Assert.Equal(rebuild, BenchOptions.IsRebuild(scenario));
        Assert.Equal(capped, BenchOptions.IsCapped(scenario));
    }

    [Fact]
    public void The_uplink_takes_a_rate_and_refuses_unlimited()
    {
        Assert.Equal(1_250_000, BenchOptions.Parse(["--bench-uplink=10mbit"]).UplinkBytesPerSecond);
        Assert.Contains("--bench-uplink", Assert.Throws<BenchOptionsException>(() => BenchOptions.Parse(["--bench-uplink=unlimited"])).Message);
        Assert.Contains("--bench-uplink 'fast'", Assert.Throws<BenchOptionsException>(() => BenchOptions.Parse(["--bench-uplink=fast"])).Message);
    }

    [Fact]
    public void Counts_the_remote_copies_of_the_site_a_benchmark_writes()
    {
        // Defaults: 3 runs x 4 contenders x (1 + 4) servers = 60 for cold (and cold-capped), twice that for
        // rebuild (and rebuild-capped), and 3 runs x 2 RTTs x 2 contenders for the RTT doubling.
        Assert.Equal(2 * (60 + 120) + 12, BenchRunner.RemoteCopies(BenchOptions.Parse([])));
        Assert.Equal(1 * 1 * 1, BenchRunner.RemoteCopies(BenchOptions.Parse(["--bench-runs=1", "--bench-servers=1", "--bench-contenders=tar-ssh", "--bench-scenarios=cold"])));
        Assert.Equal(2 + 2 * 2 + 2 + 2 * 2 + 2 * 2, BenchRunner.RemoteCopies(BenchOptions.Parse(["--bench-runs=2", "--bench-servers=1", "--bench-contenders=deploy"])));
    }

    [Fact]
    public void During_deploy_is_selected_by_name_needs_no_hexo_site_and_keeps_no_remote_copy()
    {
        var o = BenchOptions.Parse(["--bench-scenarios=during-deploy,cold"]);
        Assert.Equal(["cold", "during-deploy"], o.Scenarios);
        Assert.False(BenchOptions.UsesHexoSite("during-deploy"));
        Assert.True(BenchOptions.UsesHexoSite("rebuild-capped"));
        Assert.False(BenchOptions.IsRebuild("during-deploy") || BenchOptions.IsCapped("during-deploy"));
        Assert.Equal(0, BenchRunner.RemoteCopies(BenchOptions.Parse(["--bench-scenarios=during-deploy"])));
        Assert.Contains("during-deploy", Assert.Throws<BenchOptionsException>(() => BenchOptions.Parse(["--bench-scenarios=during"])).Message);
    }

    [Fact]
    public void Parses_both_argument_forms_and_keeps_the_canonical_order_of_lists()
    {
        var o = BenchOptions.Parse(["--bench-posts=50", "--bench-servers", "2", "--bench-rtt=0.1s", "--bench-bandwidth=100mbit",
            "--bench-runs=1", "--bench-contenders=tar-ssh, rsync-sequential", "--bench-scenarios=rebuild", "--bench-site=/tmp/site"]);
        Assert.Equal(50, o.Posts);
        Assert.Equal(2, o.Servers);
        Assert.Equal(TimeSpan.FromMilliseconds(100), o.Rtt);
        Assert.Equal(12_500_000, o.BandwidthBytesPerSecond);
        Assert.Equal(1, o.Runs);
        Assert.Equal(["rsync-sequential", "tar-ssh"], o.Contenders);
        Assert.Equal(["rebuild"], o.Scenarios);
        Assert.Equal("/tmp/site", o.Site);
    }

    [Theory]
    [InlineData("40ms", 40)]
    [InlineData("40", 40)]
    [InlineData("0", 0)]
    [InlineData("1.5s", 1500)]
    public void Rtt_takes_milliseconds_or_seconds(string text, double ms) =>
        Assert.Equal(TimeSpan.FromMilliseconds(ms), BenchOptions.ParseRtt(text));

    [Theory]
    [InlineData("unlimited", null)]
    [InlineData("8kbit", 1000L)]
    [InlineData("1gbit", 125_000_000L)]
    [InlineData("10MB", 10_000_000L)]
    public void Bandwidth_is_bits_or_bytes_per_second(string text, long? bytesPerSecond) =>
        Assert.Equal(bytesPerSecond, BenchOptions.ParseBandwidth(text));

    [Theory]
    [InlineData("--bench-posts=0", "--bench-posts")]
    [InlineData("--bench-runs=three", "--bench-runs")]
    [InlineData("--bench-rtt=fast", "--bench-rtt")]
    [InlineData("--bench-bandwidth=lots", "--bench-bandwidth")]
    [InlineData("--bench-contenders=scp", "scp")]
    [InlineData("--bench-scenarios=", "--bench-scenarios")]
    [InlineData("--bench-colour=red", "--bench-colour")]
    [InlineData("--posts=5", "--posts")]
    [InlineData("--bench-servers", "needs a value")]
    public void Bad_options_are_named_in_the_error(string arg, string named)
    {
        var e = Assert.Throws<BenchOptionsException>(() => BenchOptions.Parse([arg]));
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }
}

public sealed class BenchProgramTests
{
    [Fact]
    public void The_repository_root_is_found_above_the_current_folder()
    {
        var root = Support.Repo.Root;
        Assert.Equal(root, BenchProgram.RepositoryRoot(Path.Join(root, "tests", "Bench")));
    }
}
