using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Health;
using Build.Deployment.Release;
using Build.Deployment.Reports;
using Build.Settings;
using TestHosts;

namespace Build.Tests.Deployment.Health;

/// <summary>The health gate against real sshd servers and a real nginx per server serving <c>&lt;root&gt;/current</c>.</summary>
[Collection(DeployCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class HealthDeployTests(DeployServers servers)
{
    [Fact]
    public async Task A_healthy_deploy_is_checked_under_the_lock_and_the_web_server_serves_the_marker()
    {
        Assert.True(NginxServer.IsInstalled, "nginx is a test prerequisite (.ci/run installs it)");
        await using var bed = new DeployBed(servers, count: 2);
        await using var web = await WebServers.StartAsync(bed);
        bed.Generate(files: 9, version: "v1");
        // The observable marker: when the check of a server starts, its lock must still be there.
        var lockedDuringCheck = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
        bed.Progress.OnPhase = (server, phase) =>
        {
            if (phase == Build.Deployment.Progress.DeployPhase.Health) lockedDuringCheck[server] = bed.Locked(server);
        };

        var report = await bed.DeployAsync(bed.FanOut(health: web.Gate(paths: ["/", "/atom.xml"])));

        var id = report.ReleaseId!;
        foreach (var line in report.Servers)
        {
            Assert.Equal(Outcome.Deployed, line.Outcome);
            Assert.True(line.Healthy, line.Health);
            Assert.Contains($"serves {id}", line.Health);
            Assert.Contains("/atom.xml answer 200", line.Health);
            Assert.True(lockedDuringCheck[line.Server], $"{line.Server} was unlocked before its check");
            Assert.False(bed.Locked(line.Server));
            Assert.Equal(id, bed.CurrentId(line.Server));
            bed.AssertCurrentIsSite(line.Server);
            Assert.Equal((200, id + "\n"), await web.GetAsync(line.Server, "/.well-known/release"));
        }

        // The next deploy links its files from this release, but writes its own marker (never the old one's inode).
        bed.Generate(files: 9, version: "v2");
        var second = (await bed.DeployAsync(bed.FanOut(health: web.Gate()))).ReleaseId!;
        Assert.Equal((200, second + "\n"), await web.GetAsync("server1", "/.well-known/release"));
        Assert.Equal(id + "\n", File.ReadAllText(Path.Join(bed.RootOf("server1"), "releases", id, ".well-known", "release")));
    }

    [Fact]
    public async Task A_stopped_nginx_and_a_wrong_root_switch_every_server_back_and_mark_the_release_bad()
    {
        await using var bed = new DeployBed(servers, count: 3);
        await using var web = await WebServers.StartAsync(bed);
        bed.Generate(files: 9, version: "v1");
        var first = (await bed.DeployAsync(bed.FanOut(health: web.Gate()))).ReleaseId!;
        // server2's nginx is down; server3's serves a fixed copy of the first release instead of <root>/current.
        await web["server2"].StopAsync();
        await web["server3"].RestartWithRootAsync(Path.Join(bed.RootOf("server3"), "releases", first));
        bed.Generate(files: 9, seed: 2, version: "v2");

        var report = await bed.DeployAsync(bed.FanOut(health: web.Gate(TimeSpan.FromSeconds(3))));

        var second = report.ReleaseId!;
        var byServer = report.Servers.ToDictionary(s => s.Server);
        // The fleet is consistent: every server serves the first release again, the second is marked bad everywhere.
        foreach (var server in new[] { "server1", "server2", "server3" })
        {
            Assert.Equal(first, bed.CurrentId(server));
            Assert.True(File.Exists(Path.Join(bed.RootOf(server), ".deploy", "bad", second)), $"{second} marked bad on {server}");
            Assert.False(bed.Locked(server));
            Assert.Contains(bed.LogLines(server), l => l.Contains("switch-back", StringComparison.Ordinal) && l.Contains($"from={second}", StringComparison.Ordinal));
        }
        // server1 was healthy, switched back with the fleet; its first release passes again.
        Assert.Equal(Outcome.SwitchedBack, byServer["server1"].Outcome);
        Assert.True(byServer["server1"].Healthy);
        Assert.Contains("server2, server3 are unhealthy", byServer["server1"].Error);
        // server2: no web server at all, so the release it went back to fails too.
        Assert.Equal(Outcome.Failed, byServer["server2"].Outcome);
        Assert.False(byServer["server2"].Healthy);
        Assert.StartsWith("unhealthy, and the previous release is unhealthy too", byServer["server2"].Error);
        // server3: the wrong root serves the first release's marker: unhealthy for the second, healthy once back.
        Assert.Equal(Outcome.SwitchedBack, byServer["server3"].Outcome);
        Assert.False(byServer["server3"].Healthy);
        Assert.True(byServer["server3"].Health!.Contains($"serves \"{first}\", not {second}", StringComparison.Ordinal), byServer["server3"].Health);
        var junit = report.ToJUnit();
        Assert.Equal(2, junit.Descendants("failure").Count());
    }

    [Fact]
    public async Task Independent_switches_back_only_the_unhealthy_server_and_keep_only_reports()
    {
        await using var bed = new DeployBed(servers, count: 2);
        await using var web = await WebServers.StartAsync(bed);
        bed.Generate(files: 6, version: "v1");
        var first = (await bed.DeployAsync()).ReleaseId!;
        var empty = Path.Join(bed.Workspace, "empty-root");
        Directory.CreateDirectory(empty);
        await web["server2"].RestartWithRootAsync(empty);
        bed.Generate(files: 6, seed: 3, version: "v2");

        var report = await bed.DeployAsync(bed.FanOut(mode: SwitchMode.Independent, health: web.Gate(TimeSpan.FromSeconds(2))));

        var second = report.ReleaseId!;
        Assert.Equal(second, bed.CurrentId("server1"));
        Assert.Equal(Outcome.Deployed, report.Servers.Single(s => s.Server == "server1").Outcome);
        // The previous release is unhealthy too (the wrong root serves nothing): failed, and back on the first.
        var failed = report.Servers.Single(s => s.Server == "server2");
        Assert.Equal(Outcome.Failed, failed.Outcome);
        Assert.Contains("unhealthy, and the previous release is unhealthy too", failed.Error);
        Assert.Contains("HTTP 404", failed.Error);
        Assert.Equal(first, bed.CurrentId("server2"));
        Assert.False(bed.Locked("server2"));

        bed.Generate(files: 6, seed: 4, version: "v3");
        var kept = await bed.DeployAsync(bed.FanOut(health: web.Gate(TimeSpan.FromSeconds(2), OnUnhealthy.Keep)));
        Assert.Equal(kept.ReleaseId, bed.CurrentId("server2"));
        var line = kept.Servers.Single(s => s.Server == "server2");
        Assert.Equal(Outcome.Failed, line.Outcome);
        Assert.Contains("kept (--on-unhealthy=keep)", line.Error);
        Assert.False(bed.Locked("server2"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_switch_whose_reply_was_lost_keeps_the_lock_through_the_check_and_releases_it_after(bool healthy)
    {
        await using var bed = new DeployBed(servers, count: 1);
        await using var web = await WebServers.StartAsync(bed);
        bed.Generate(files: 6, version: "v1");
        var first = (await bed.DeployAsync(bed.FanOut(health: web.Gate()))).ReleaseId!;
        // Unhealthy: the web server serves a fixed copy of the first release, so the new one is switched back.
        if (!healthy) await web["server1"].RestartWithRootAsync(Path.Join(bed.RootOf("server1"), "releases", first));
        bed.Generate(files: 6, seed: 2, version: "v2");
        // The first connection dies right after the switch ran on the server; with one attempt there is no retry, so the
        // deploy learns on a fresh connection that the switch happened (the path after every attempt failed).
        var connect = bed.Connect();
        var lost = 0;
        ConnectServer losing = async (target, ct) =>
        {
            var link = await connect(target, ct);
            return Interlocked.Exchange(ref lost, 1) == 0 ? new ServerLink(new ReplyLosingShell(link.Shell, RemoteScripts.Switch, link.Dispose), link) : link;
        };
        // The observable marker: whenever a check starts, the lock must be there, and this run's.
        var owners = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        bed.Progress.OnPhase = (server, phase) =>
        {
            if (phase != Build.Deployment.Progress.DeployPhase.Health) return;
            var owner = Path.Join(bed.RootOf(server), ".deploy", "lock", "owner");
            owners.Enqueue(bed.Locked(server) && File.Exists(owner) ? File.ReadAllLines(owner).FirstOrDefault() : null);
        };

        var report = await bed.DeployAsync(bed.FanOut(connect: losing, attempts: 1, health: web.Gate(TimeSpan.FromSeconds(3))));

        var second = report.ReleaseId!;
        var line = Assert.Single(report.Servers);
        Assert.Contains(bed.Progress.Lines, l => l.StartsWith("server1: switched", StringComparison.Ordinal) && l.Contains("reply was lost", StringComparison.Ordinal));
        // Checked once when healthy; the new release and then the one it went back to when not.
        Assert.Equal(healthy ? 1 : 2, owners.Count);
        Assert.All(owners, o => Assert.Equal("run=run-test-a", o));
        Assert.False(bed.Locked("server1"));
        if (healthy)
        {
            Assert.Equal(Outcome.Deployed, line.Outcome);
            Assert.True(line.Healthy, line.Health);
            Assert.Equal(second, bed.CurrentId("server1"));
        }
        else
        {
            Assert.Equal(Outcome.SwitchedBack, line.Outcome);
            Assert.Equal(first, bed.CurrentId("server1"));
            Assert.True(File.Exists(Path.Join(bed.RootOf("server1"), ".deploy", "bad", second)));
        }
    }

    [Fact]
    public async Task A_rollback_is_checked()
    {
        await using var bed = new DeployBed(servers, count: 1);
        await using var web = await WebServers.StartAsync(bed);
        bed.Generate(files: 6, version: "v1");
        var first = (await bed.DeployAsync()).ReleaseId!;
        bed.Generate(files: 6, seed: 2, version: "v2");
        var second = (await bed.DeployAsync()).ReleaseId!;

        var back = await bed.RollbackAsync(health: web.Gate());
        var line = Assert.Single(back.Servers);
        Assert.Equal(Outcome.RolledBack, line.Outcome);
        Assert.True(line.Healthy, line.Health);
        Assert.Contains($"serves {first}", line.Health);
        Assert.False(bed.Locked("server1"));

        // The web server does not serve <root>/current: the rollback happens, and is reported failed.
        await web["server1"].RestartWithRootAsync(Path.Join(bed.RootOf("server1"), "releases", first));
        var again = await bed.RollbackAsync(release: second, health: web.Gate(TimeSpan.FromSeconds(2)));
        line = Assert.Single(again.Servers);
        Assert.Equal(Outcome.Failed, line.Outcome);
        Assert.Contains($"rolled back to {second}, but it is unhealthy", line.Error);
        Assert.Equal(second, bed.CurrentId("server1"));
        Assert.False(bed.Locked("server1"));
    }
}
