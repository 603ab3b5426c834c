using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Release;
using Build.Deployment.Reports;
using Build.Settings;
using TestHosts;
using Xunit.Abstractions;

namespace Build.Tests.Deployment.Release;

/// <summary>
/// Three real sshd servers (127.0.0.9-11) that differ only in the tools their sessions find: server1 the machine's PATH
/// (zstd included), server2 GNU tools without zstd (sshd's <c>SetEnv PATH=</c>), server3 a <c>zstd</c> that sees a
/// corrupt stream (its first bytes dropped, as damage in transit would).
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class ZstdServers : DeployServers
{
    private readonly string _withoutZstd = Tools(corruptZstd: false);
    private readonly string _corruptZstd = Tools(corruptZstd: true);

    protected override IReadOnlyList<string> Addresses => ["127.0.0.9", "127.0.0.10", "127.0.0.11"];

    protected override SshServerOptions Options(string address) => address switch
    {
        "127.0.0.10" => new() { Address = address, SessionPath = _withoutZstd },
        "127.0.0.11" => new() { Address = address, SessionPath = _corruptZstd },
        _ => new() { Address = address },
    };

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_withoutZstd, recursive: true);
        Directory.Delete(_corruptZstd, recursive: true);
    }

    private static string Tools(bool corruptZstd)
    {
        var directory = Directory.CreateTempSubdirectory("zstd-tools-").FullName;
        foreach (var tool in LocalShell.Required.Concat(LocalShell.Optional).Append("tail"))
            File.CreateSymbolicLink(Path.Join(directory, tool), tool == "sh" ? LocalShell.Which("dash") : LocalShell.Which(tool));
        if (corruptZstd)
        {
            var zstd = Path.Join(directory, "zstd");
            File.WriteAllText(zstd, $"#!{LocalShell.Which("dash")}\ntail -c +65 | {LocalShell.Which("zstd")} \"$@\"\n");
            File.SetUnixFileMode(zstd, (UnixFileMode)0b111_101_101);
        }
        // The login user (unprivileged when the tests run as root) runs them.
        File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        return directory;
    }
}

[CollectionDefinition(Name)]
public sealed class ZstdCollection : ICollectionFixture<ZstdServers>
{
    public const string Name = "zstd-servers";
}

/// <summary>The upload's compression over real SSH: zstd where the server has it, gzip where not, and a corrupt zstd stream refused.</summary>
[Collection(ZstdCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class ZstdUploadSshTests(ZstdServers servers, ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    private static void Pages(DeployBed bed, string version)
    {
        bed.Generate(files: 30, bytesPerFile: 2000, version: version);
        // Text that compresses as a blog's pages do, over more than one unit of tar.
        bed.Write("archive/index.html", string.Concat(Enumerable.Range(0, 100_000).Select(i => $"<li><a href=\"/p/{i * 7919 % 10007}/\">{i % 97}</a></li>\n")));
    }

    [Fact]
    public async Task A_server_with_zstd_gets_zstd_frames_and_one_without_gets_gzip_and_both_serve_the_site()
    {
        await using var bed = new DeployBed(servers, count: 2);
        Pages(bed, "v1");
        var raw = new FileInfo(Path.Join(bed.Site, "archive/index.html")).Length;

        var first = await bed.DeployAsync(bed.FanOut(mode: SwitchMode.Independent)).WaitAsync(Bound);
        output.WriteLine(bed.Progress.ToString());

        Assert.All(first.Servers, s => Assert.Equal(Outcome.Deployed, s.Outcome));
        Assert.Contains(bed.Progress.Lines, l => l.StartsWith("server1: ", StringComparison.Ordinal) && l.Contains("(zstd), stream hashes match", StringComparison.Ordinal));
        Assert.Contains(bed.Progress.Lines, l => l.StartsWith("server2: ", StringComparison.Ordinal) && l.Contains("(gzip), stream hashes match", StringComparison.Ordinal));
        var zstd = first.Servers.Single(s => s.Server == "server1").BytesSent;
        var gzip = first.Servers.Single(s => s.Server == "server2").BytesSent;
        Assert.True(zstd < gzip, $"zstd {zstd} bytes, gzip {gzip} bytes");
        Assert.True(gzip < raw / 3, $"gzip {gzip} of {raw} bytes: compressed");
        bed.AssertCurrentIsSite("server1");
        bed.AssertCurrentIsSite("server2");

        // A delta (links to the current release, one changed page) goes the same ways.
        bed.Write("index.html", "<html><body>v2</body></html>\n");
        var second = await bed.DeployAsync(bed.FanOut(mode: SwitchMode.Independent)).WaitAsync(Bound);
        foreach (var s in second.Servers)
        {
            Assert.Equal(Outcome.Deployed, s.Outcome);
            Assert.Equal(1, s.FilesSent);
            bed.AssertCurrentIsSite(s.Server);
        }
        Assert.Equal(2, bed.Progress.Lines.Count(l => l.StartsWith("server1: ", StringComparison.Ordinal) && l.Contains("(zstd)", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_corrupt_zstd_stream_fails_the_upload_seals_nothing_and_releases_the_lock()
    {
        await using var bed = new DeployBed(servers, count: 3);
        var server3 = bed.Targets().Where(t => t.Name == "server3").ToList();
        Pages(bed, "v1");
        // First deployed uncompressed (the broken zstd is not used), so that there is a current release to keep.
        var release = bed.Release;
        bed.Release = release with { Compress = false };
        var first = await bed.DeployAsync(bed.FanOut(server3)).WaitAsync(Bound);
        Assert.Equal(Outcome.Deployed, Assert.Single(first.Servers).Outcome);

        bed.Release = release;
        bed.Write("index.html", "<html><body>v2</body></html>\n");
        var failed = await bed.DeployAsync(bed.FanOut(server3, attempts: 1)).WaitAsync(Bound);
        output.WriteLine(bed.Progress.ToString());

        var report = Assert.Single(failed.Servers);
        Assert.Equal(Outcome.Failed, report.Outcome);
        Assert.Contains("zstd exited with status 1", report.Error); // the cause, with zstd's own message
        Assert.Contains("unsupported format", report.Error);
        Assert.Equal(first.ReleaseId, bed.CurrentId("server3"));
        Assert.Equal([first.ReleaseId!], bed.Releases("server3")); // no release sealed, no staging left
        Assert.False(File.Exists(Path.Join(bed.RootOf("server3"), ".deploy", "manifests", failed.ReleaseId + ".json")));
        Assert.False(bed.Locked("server3"));
        Assert.Empty(Directory.GetDirectories(Path.Join(bed.RootOf("server3"), ".deploy"), "tmp.*"));
    }
}
