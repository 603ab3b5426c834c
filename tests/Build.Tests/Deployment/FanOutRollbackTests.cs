using System.Runtime.Versioning;
using Build.Deployment.Reports;
using Build.Tests.Deployment.Release;

namespace Build.Tests.Deployment;

/// <summary>Rollback through the fan-out over real sshd servers.</summary>
[Collection(DeployCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class FanOutRollbackTests(DeployServers servers, Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Rollback_restores_the_previous_release_exactly_skips_bad_ones_and_takes_a_release()
    {
        await using var bed = new DeployBed(servers, count: 2);
        var sites = new Dictionary<string, string>();
        async Task<string> DeployVersion(int v)
        {
            bed.Site = Path.Join(bed.Workspace, $"site-{v}");
            bed.Generate(files: 9, seed: v, version: $"v{v}");
            if (v == 2) File.Delete(Path.Join(bed.Site, "assets/img-2.bin"));
            var report = await bed.DeployAsync();
            Assert.All(report.Servers, s => Assert.Equal(Outcome.Deployed, s.Outcome));
            sites[report.ReleaseId!] = bed.Site;
            return report.ReleaseId!;
        }

        var a = await DeployVersion(1);
        var b = await DeployVersion(2);

        bed.AttemptTimeout = TimeSpan.FromSeconds(20);
        var back = await bed.RollbackAsync();
        output.WriteLine(bed.Progress.ToString());
        Assert.All(back.Servers, s =>
        {
            Assert.Equal((Outcome.RolledBack, a, b), (s.Outcome, s.ReleaseId, s.PreviousReleaseId));
            Assert.Equal(a, bed.CurrentId(s.Server));
            ReleaseTestKit.AssertSameTree(sites[a], bed.Current(s.Server));
            Assert.True(File.Exists(Path.Join(bed.RootOf(s.Server), ".deploy", "bad", b)));
            Assert.False(bed.Locked(s.Server));
            Assert.Contains("rollback", bed.LogLines(s.Server)[^1]);
        });

        // b is bad now; after c, the rollback target skips b and goes to a.
        var c = await DeployVersion(3);
        var second = await bed.RollbackAsync();
        Assert.All(second.Servers, s =>
        {
            Assert.Equal((Outcome.RolledBack, a, c), (s.Outcome, s.ReleaseId, s.PreviousReleaseId));
            ReleaseTestKit.AssertSameTree(sites[a], bed.Current(s.Server));
        });

        // --release picks one explicitly, on one server only.
        var only = Build.Tailnet.ServerSelection.Filter(bed.Targets(), ["server2"]);
        var explicitly = await bed.RollbackAsync(b, only);
        var line = Assert.Single(explicitly.Servers);
        Assert.Equal(("server2", Outcome.RolledBack, b), (line.Server, line.Outcome, line.ReleaseId));
        ReleaseTestKit.AssertSameTree(sites[b], bed.Current("server2"));
        ReleaseTestKit.AssertSameTree(sites[a], bed.Current("server1"));

        // A release a server lacks fails clearly for that server.
        var missing = await bed.RollbackAsync("20200101T000000Z-00000000");
        Assert.All(missing.Servers, s =>
        {
            Assert.Equal(Outcome.Failed, s.Outcome);
            Assert.Contains("20200101T000000Z-00000000", s.Error);
            Assert.False(bed.Locked(s.Server));
        });
        ReleaseTestKit.AssertSameTree(sites[b], bed.Current("server2"));
    }
}
