using System.Text.Json;
using Bench;
using TestHosts;
using Xunit.Abstractions;

namespace Build.Tests.Bench;

/// <summary>
/// The during-deploy scenario: its wiring against one real sshd and a real nginx (rsync into the live tree, the contender
/// that needs no built pipeline), and the report of its readers' counts. No timing and no count of failures is asserted:
/// those are what the scenario measures.
/// </summary>
public sealed class DuringDeployTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Rtt = TimeSpan.FromMilliseconds(40);

    [Fact]
    public async Task Rsync_into_the_live_tree_is_deployed_ten_times_while_readers_read_through_nginx()
    {
        Assert.True(NginxServer.IsInstalled, "nginx is a test prerequisite (.ci/run installs it)");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await using var farm = await ServerFarm.StartAsync(1, TimeSpan.Zero, null, timeout.Token);
        var rsync = new RsyncContender(farm, parallel: false);

        var run = await new DuringDeploy(farm, output.WriteLine).RunAsync(rsync, 1, timeout.Token);

        output.WriteLine(run.Load.ToString());
        Assert.Equal(DuringDeploy.Deploys, run.Deploys.Count);
        Assert.All(run.Deploys, d => Assert.True(d.BytesUp > 0, "every deploy went through the proxy"));
        // The readers really read (through nginx, not a load that never started): a view is four requests or fewer.
        Assert.True(run.Load.Views > 0, run.Load.ToString());
        Assert.True(run.Load.Requests >= run.Load.Views && run.Load.Failed <= run.Load.Requests && run.Load.BrokenViews <= run.Load.Views, run.Load.ToString());
        // The run's copies are gone: only the farm's own files are left.
        Assert.Empty(Directory.GetDirectories(Path.Join(farm.Directory, "remote")));

        // Deploy runs with the health check on the web server's marker added after its own arguments.
        var plain = new DeployContender(farm, "/repo");
        var gated = plain.WithArguments("--health-url=http://127.0.0.2:8080/.well-known/release");
        Assert.Equal([.. plain.Arguments("/site", "/base", 1), "--health-url=http://127.0.0.2:8080/.well-known/release"], gated.Arguments("/site", "/base", 1));
        Assert.DoesNotContain(plain.Arguments("/site", "/base", 1), a => a.StartsWith("--health-url", StringComparison.Ordinal));
        Assert.Equal("deploy", gated.Name);
    }

    [Fact]
    public void Deploy_serves_current_and_rsync_the_live_tree_and_other_contenders_are_not_run()
    {
        Assert.Equal("/srv/s1/current", DuringDeploy.WebRoot("deploy", "/srv/s1"));
        Assert.Equal("/srv/s1", DuringDeploy.WebRoot("rsync-sequential", "/srv/s1"));
        Assert.True(DuringDeploy.Takes(new Named("deploy")));
        Assert.True(DuringDeploy.Takes(new Named("rsync-sequential")));
        Assert.False(DuringDeploy.Takes(new Named("rsync-parallel")));
        Assert.False(DuringDeploy.Takes(new Named("tar-ssh")));
    }

    [Fact]
    public void Readers_counts_add_up_over_runs()
    {
        var sum = new LoadCounts(10, 1, 3, 1) + new LoadCounts(5, 0, 2, 0) + LoadCounts.None;
        Assert.Equal(new LoadCounts(15, 1, 5, 1), sum);
    }

    [Fact]
    public void During_deploy_rows_carry_the_readers_counts_summed_over_runs_and_other_rows_null()
    {
        var loads = new Dictionary<(string, int, string), IReadOnlyList<LoadCounts>>
        {
            [("during-deploy", 1, "deploy")] = [new(1000, 0, 250, 0), new(1200, 0, 300, 0)],
            [("during-deploy", 1, "rsync-sequential")] = [new(900, 40, 220, 30), new(800, 2, 200, 1)],
        };
        // Ten deploys a run, two runs: each deploy is one measure.
        var deploys = Enumerable.Range(1, 20).Select(i => new RunMeasure(i % 2 == 0 ? 2.0 : 4.0, 100, 10, 1024)).ToArray();
        var rsyncs = Enumerable.Range(1, 20).Select(_ => new RunMeasure(1.0, 50, 5, 1024)).ToArray();

        var rows = BenchReport.Summarise(
        [
            ("cold", 1, "deploy", [new(1.0, 1, 1, 1024)]),
            ("during-deploy", 1, "deploy", deploys),
            ("during-deploy", 1, "rsync-sequential", rsyncs),
        ], Rtt, loads);

        Assert.Equal((null, null, null), (rows[0].Requests, rows[0].Failed, rows[0].BrokenViews));
        Assert.Equal((2200L, 0L, 0L), (rows[1].Requests!.Value, rows[1].Failed!.Value, rows[1].BrokenViews!.Value));
        Assert.Equal((1700L, 42L, 31L), (rows[2].Requests!.Value, rows[2].Failed!.Value, rows[2].BrokenViews!.Value));
        Assert.Equal(2, rows[1].Runs); // runs of ten deploys, not deploys
        Assert.Equal(3.0, rows[1].MedianSeconds); // the median deploy
        Assert.Equal(3.0, rows[1].RatioVsRsync);

        using var json = JsonDocument.Parse(BenchReport.ToJson(rows));
        Assert.Equal(JsonValueKind.Null, json.RootElement[0].GetProperty("broken_views").ValueKind);
        Assert.Equal(42, json.RootElement[2].GetProperty("failed").GetInt64());
        Assert.Equal(31, json.RootElement[2].GetProperty("broken_views").GetInt64());
        Assert.Equal(2200, json.RootElement[1].GetProperty("requests").GetInt64());

        var table = BenchReport.Table(rows);
        var cold = table[..table.IndexOf("Scenario: during-deploy", StringComparison.Ordinal)];
        Assert.DoesNotContain("broken views", cold);
        Assert.Matches(@"requests\s+failed\s+broken views", table);
        Assert.Matches(@"deploy\s+1\s+3\.000 .*\s2,200\s+0\s+0\r?\n", table);
        Assert.Matches(@"rsync-sequential\s+1\s+1\.000 .*\s1,700\s+42\s+31\r?\n", table);
    }

    private sealed class Named(string name) : IContender
    {
        public string Name => name;

        public Task<ContenderRun> RunAsync(string site, string remoteBase, int servers, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
