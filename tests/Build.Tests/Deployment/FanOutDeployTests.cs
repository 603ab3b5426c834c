using System.Runtime.Versioning;
using Build.Deployment.Reports;
using Build.Tests.Deployment.Release;
using Build.Tailnet;
using Xunit.Abstractions;

namespace Build.Tests.Deployment;

/// <summary>The fan-out over real sshd servers: deltas, unchanged, --server, --plan, pruning, names, modes.</summary>
[Collection(DeployCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class FanOutDeployTests(DeployServers servers, ITestOutputHelper output)
{
    [Fact]
    public async Task First_deploy_sends_all_then_one_change_only_it_then_a_deleted_page_goes_then_same_content_is_unchanged()
    {
        await using var bed = new DeployBed(servers);
        bed.Generate(files: 30);
        var fileCount = Directory.GetFiles(bed.Site, "*", SearchOption.AllDirectories).Length;

        var first = await bed.DeployAsync();
        output.WriteLine(bed.Progress.ToString());
        Assert.All(first.Servers, s =>
        {
            Assert.Equal(Outcome.Deployed, s.Outcome);
            Assert.Equal(fileCount, s.FilesSent);
            Assert.Equal(0, s.FilesLinked);
            Assert.True(s.BytesSent > 30 * 2000, $"bytes sent {s.BytesSent}");
            Assert.Null(s.PreviousReleaseId);
        });
        foreach (var s in first.Servers)
        {
            bed.AssertCurrentIsSite(s.Server);
            Assert.Equal(first.ReleaseId, bed.CurrentId(s.Server));
            Assert.False(bed.Locked(s.Server));
        }

        bed.Write("2026/01/post-0/index.html", "<html>edited post</html>\n");
        var second = await bed.DeployAsync();
        Assert.All(second.Servers, s =>
        {
            Assert.Equal(Outcome.Deployed, s.Outcome);
            Assert.Equal(1, s.FilesSent);
            Assert.Equal(fileCount - 1, s.FilesLinked);
            Assert.Equal(first.ReleaseId, s.PreviousReleaseId);
            Assert.True(s.BytesSent < 10_000, $"bytes sent {s.BytesSent}");
            bed.AssertCurrentIsSite(s.Server);
            // The unchanged files are hard links into the previous release, not copies.
            var linked = Path.Join(bed.RootOf(s.Server), "releases", second.ReleaseId!, "index.html");
            var old = Path.Join(bed.RootOf(s.Server), "releases", first.ReleaseId!, "index.html");
            Assert.Equal(ReleaseTestKit.Inode(old), ReleaseTestKit.Inode(linked));
        });

        File.Delete(Path.Join(bed.Site, "tags/tag-1/index-1.html"));
        var third = await bed.DeployAsync();
        Assert.All(third.Servers, s =>
        {
            Assert.Equal(Outcome.Deployed, s.Outcome);
            Assert.Equal(0, s.FilesSent);
            Assert.Equal(1, s.FilesRemoved);
            Assert.False(File.Exists(Path.Join(bed.Current(s.Server), "tags/tag-1/index-1.html")));
            bed.AssertCurrentIsSite(s.Server);
        });

        var again = await bed.DeployAsync();
        Assert.All(again.Servers, s =>
        {
            Assert.Equal(Outcome.Unchanged, s.Outcome);
            Assert.Equal(0, s.FilesSent);
            Assert.Equal(0, s.BytesSent);
            Assert.Equal(third.ReleaseId, s.ReleaseId);
            Assert.Equal(third.ReleaseId, bed.CurrentId(s.Server));
            Assert.False(bed.Locked(s.Server));
            Assert.Contains("outcome=unchanged", bed.LogLines(s.Server)[^1]);
        });
        // Healthy servers need no second attempt.
        Assert.DoesNotContain(bed.Progress.Lines, l => l.Contains(": retry", StringComparison.Ordinal));
        Assert.Contains(bed.Progress.Lines, l => l.Contains("sent in 2 streams", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Server_selection_redeploys_one_server_and_leaves_the_others_untouched()
    {
        await using var bed = new DeployBed(servers, count: 3);
        bed.Generate(files: 12);
        var first = await bed.DeployAsync();
        Assert.All(first.Servers, s => Assert.Equal(Outcome.Deployed, s.Outcome));
        var before = new[] { "server1", "server3" }.ToDictionary(s => s, s => DeployBed.Snapshot(bed.RootOf(s)));

        bed.Write("index.html", "<html>only server2 gets this</html>\n");
        var selected = ServerSelection.Filter(bed.Targets(), ["SERVER2"]);
        Assert.Equal(["server2"], selected.Select(t => t.Name));
        var report = await bed.DeployAsync(bed.FanOut(selected));

        var line = Assert.Single(report.Servers);
        Assert.Equal(("server2", Outcome.Deployed, 1), (line.Server, line.Outcome, line.FilesSent));
        bed.AssertCurrentIsSite("server2");
        foreach (var (server, snapshot) in before) Assert.Equal(snapshot, DeployBed.Snapshot(bed.RootOf(server)));
    }

    [Fact]
    public async Task Plan_reports_the_delta_changes_nothing_and_takes_no_lock()
    {
        await using var bed = new DeployBed(servers);
        bed.Generate(files: 12);
        await bed.DeployAsync();
        bed.Write("index.html", "<html>planned</html>\n");
        bed.Write("new/page.html", "<html>new</html>\n");

        // Another run holds server1's lock: a plan neither waits for it nor takes it.
        using var connection = await bed.Connector().ConnectAsync(bed.Targets()[0], CancellationToken.None);
        var other = new Build.Deployment.Release.ReleaseSession(connection.Shell,
            Build.Deployment.RemoteRoot.Of(bed.RootOf("server1")), DeployBed.Run("run-other"), bed.Release, TimeProvider.System);
        await other.PrepareAsync(withManifest: false, CancellationToken.None);
        var before = bed.Targets().ToDictionary(t => t.Name, t => DeployBed.Snapshot(bed.RootOf(t.Name)));

        var candidate = await bed.CandidateAsync();
        var report = new DeployReport { Operation = "plan", StartedAt = DateTimeOffset.UtcNow };
        await bed.FanOut().PlanAsync(Task.FromResult(candidate), report, CancellationToken.None);
        output.WriteLine(bed.Progress.ToString());

        Assert.All(report.Servers, s =>
        {
            Assert.Equal(Outcome.Planned, s.Outcome);
            Assert.Equal(2, s.FilesSent);
            Assert.Equal(Directory.GetFiles(bed.Site, "*", SearchOption.AllDirectories).Length - 2, s.FilesLinked);
        });
        Assert.Contains(bed.Progress.Lines, l => l.StartsWith("server1: planned", StringComparison.Ordinal) && l.Contains("run-other", StringComparison.Ordinal));
        foreach (var (server, snapshot) in before) Assert.Equal(snapshot, DeployBed.Snapshot(bed.RootOf(server)));
        Assert.False(bed.Locked("server2"));
    }

    [Fact]
    public async Task Pruning_keeps_keep_releases_and_stale_partials_are_removed()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Release = bed.Release with { KeepReleases = 2 };
        var ids = new List<string>();
        for (var v = 1; v <= 4; v++)
        {
            bed.Generate(files: 6, seed: v, version: $"v{v}");
            if (v == 3)
            {
                // A crashed deploy of another run left its staging directory behind.
                (await bed.Fixture[0].RunAsUserAsync("mkdir -p \"$1/releases/.20200101T000000Z-deadbeef.partial/x\"", [bed.RootOf("server1")])).EnsureSuccess("stale partial");
            }
            ids.Add((await bed.DeployAsync()).ReleaseId!);
        }
        Assert.Equal(ids[^1], bed.CurrentId("server1"));
        Assert.Equal(ids.TakeLast(2).Order(StringComparer.Ordinal), bed.Releases("server1"));
        Assert.DoesNotContain(bed.Releases("server1"), n => n.EndsWith(".partial", StringComparison.Ordinal));
        bed.AssertCurrentIsSite("server1");
    }

    [Fact]
    public async Task Awkward_file_names_round_trip()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 3);
        string[] names =
        [
            "with space.html", "quote'single.html", "quote\"double.html", "new\nline.html", "ünïcødé/日本語.html",
            "-leading-dash.html", "--rf", "$(touch pwned).html", "back\\slash.html", "semi;colon&amp.html", "tab\tname.html", "*.html",
        ];
        foreach (var name in names) bed.Write(name, $"content of {name}");
        var report = await bed.DeployAsync();
        Assert.Equal(Outcome.Deployed, Assert.Single(report.Servers).Outcome);
        bed.AssertCurrentIsSite("server1");
        Assert.Equal(0, (await bed.Fixture[0].RunAsUserAsync("cd && test ! -e pwned*")).ExitCode);

        // Renamed again: the next release links the unchanged awkward names from this one.
        bed.Write("with space.html", "changed");
        var second = await bed.DeployAsync();
        Assert.Equal(1, Assert.Single(second.Servers).FilesSent);
        bed.AssertCurrentIsSite("server1");
    }

    [Fact]
    public async Task A_mode_only_change_is_deployed_without_touching_the_live_release()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 6);
        bed.Write("run.sh", "echo hi\n", 0b110_100_100);
        var first = await bed.DeployAsync();
        var live = Path.Join(bed.RootOf("server1"), "releases", first.ReleaseId!, "run.sh");
        var liveMode = File.GetUnixFileMode(live);

        File.SetUnixFileMode(Path.Join(bed.Site, "run.sh"), (UnixFileMode)0b111_101_101);
        var second = await bed.DeployAsync();
        var line = Assert.Single(second.Servers);
        Assert.Equal((Outcome.Deployed, 1), (line.Outcome, line.FilesSent));
        Assert.Equal(liveMode, File.GetUnixFileMode(live));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Join(bed.Current("server1"), "run.sh")));
        Assert.NotEqual(ReleaseTestKit.Inode(live), ReleaseTestKit.Inode(Path.Join(bed.Current("server1"), "run.sh")));
        bed.AssertCurrentIsSite("server1");
    }
}
