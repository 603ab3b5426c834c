using System.Runtime.Versioning;
using Build.Deployment.Reports;
using TestHosts;
using Xunit.Abstractions;

namespace Build.Tests.Deployment.Health;

/// <summary>
/// Readers during deploys, against a real nginx serving <c>&lt;root&gt;/current</c>: 10 consecutive deploys (each adds a
/// post and rewrites the home page, every post page and the stylesheet) under 4 concurrent readers, each following the
/// home page's links at once. The same load against <c>rsync -az --delete</c> into the live tree is measured and reported.
/// </summary>
[Collection(DeployCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class ZeroDowntimeTests(DeployServers servers, ITestOutputHelper output)
{
    private const int Deploys = 10;
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Ten_deploys_under_load_fail_no_request_and_break_no_view()
    {
        await using var bed = new DeployBed(servers, count: 1);
        await using var web = await WebServers.StartAsync(bed);
        LoadSite.Write(bed.Site, 1);
        await bed.DeployAsync(bed.FanOut(health: web.Gate()));
        var load = new ReaderLoad(web["server1"].BaseUrl);
        var releases = new List<string>();

        var counts = await load.RunAsync(async ct =>
        {
            for (var version = 2; version <= Deploys + 1; version++)
            {
                LoadSite.Write(bed.Site, version);
                var report = await bed.DeployAsync(bed.FanOut(health: web.Gate()), ct);
                var line = Assert.Single(report.Servers);
                Assert.True(line.Outcome == Outcome.Deployed, line.Error);
                releases.Add(report.ReleaseId!);
            }
        }, Bound, CancellationToken.None);

        output.WriteLine($"deploy, {Deploys} deploys: {counts}");
        Assert.Equal(Deploys, releases.Distinct().Count());
        Assert.Equal(releases[^1], bed.CurrentId("server1"));
        // The readers really read throughout (not a load that never started).
        Assert.True(counts.Views >= Deploys * 4, $"only {counts.Views} views");
        Assert.Equal(0, counts.Failed);
        Assert.Equal(0, counts.BrokenViews);
    }

    [Fact]
    public async Task Rsync_into_the_live_tree_is_measured_under_the_same_load()
    {
        await using var bed = new DeployBed(servers, count: 1);
        var live = Path.Join(bed.Base, "server1-live");
        var sshd = bed.Fixture[0];
        var knownHosts = Path.Join(bed.Workspace, "known_hosts_rsync");
        File.WriteAllText(knownHosts, sshd.KnownHostsLines());
        var shell = $"ssh -p {sshd.Port} -i {sshd.UserKey.PrivateKeyPath} -o UserKnownHostsFile={knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes";
        async Task RsyncAsync(CancellationToken ct) =>
            (await LocalProcess.RunAsync("rsync", ["-az", "--delete", "-e", shell, bed.Site + "/", $"{sshd.UserName}@{sshd.Address}:{live}/"], ct)).EnsureSuccess("rsync");
        LoadSite.Write(bed.Site, 1);
        await RsyncAsync(CancellationToken.None);
        await using var nginx = await NginxServer.StartAsync(new NginxOptions { Address = sshd.Address, Root = live });
        var load = new ReaderLoad(nginx.BaseUrl);

        var counts = await load.RunAsync(async ct =>
        {
            for (var version = 2; version <= Deploys + 1; version++)
            {
                LoadSite.Write(bed.Site, version);
                await RsyncAsync(ct);
            }
        }, Bound, CancellationToken.None);

        // Measured, not asserted: what readers of a tree updated in place see (README, "during-deploy").
        output.WriteLine($"rsync -az --delete, {Deploys} deploys: {counts}");
        Assert.Contains($"site version {Deploys + 1}", File.ReadAllText(Path.Join(live, "posts", "1", "index.html")));
        Assert.True(counts.Views > 0 && counts.Requests >= counts.Views);
    }
}
