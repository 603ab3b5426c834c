using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.Versioning;
using Build.Deployment.Release;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests.Deployment.Release;

[UnsupportedOSPlatform("windows")]
public sealed class CompressionGovernorTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void A_link_slower_than_compressing_raises_the_level_one_step_a_unit_up_to_9()
    {
        var governor = new CompressionGovernor();
        for (var i = 0; i < 6; i++)
            governor.Observe(producing: 10 * Ms, waiting: 50 * Ms, bytes: 100_000);

        Assert.Equal([6, 7, 8, 9, 9, 9], governor.History);
        Assert.Equal(9, governor.Level);
        Assert.True(governor.LinkSeen);
    }

    [Fact]
    public void No_wait_within_the_channel_window_proves_nothing_and_keeps_the_level()
    {
        var governor = new CompressionGovernor(headroom: 1_000_000);
        for (var i = 0; i < 9; i++)
            governor.Observe(producing: 10 * Ms, waiting: TimeSpan.Zero, bytes: 100_000);

        Assert.All(governor.History, level => Assert.Equal(6, level));
        Assert.False(governor.LinkSeen);
    }

    [Fact]
    public void Past_the_window_without_a_wait_the_cpu_is_the_bottleneck_and_the_level_goes_down_to_1()
    {
        var governor = new CompressionGovernor(headroom: 250_000);
        for (var i = 0; i < 9; i++)
            governor.Observe(producing: 10 * Ms, waiting: TimeSpan.Zero, bytes: 100_000);

        Assert.Equal([6, 6, 6, 5, 4, 3, 2, 1, 1], governor.History);
        Assert.Equal(governor.Levels.Min, governor.Level);
    }

    [Fact]
    public void Once_the_link_was_felt_a_faster_link_brings_the_level_back_down()
    {
        var governor = new CompressionGovernor(headroom: long.MaxValue);
        governor.Observe(10 * Ms, 40 * Ms, 100_000); // link-bound: 6 -> 7
        governor.Observe(10 * Ms, 40 * Ms, 100_000); // 7 -> 8
        governor.Observe(40 * Ms, 1 * Ms, 100_000);  // the link got faster: 8 -> 7
        governor.Observe(40 * Ms, 20 * Ms, 100_000); // balanced (neither bound): stays 7
        governor.Observe(40 * Ms, 1 * Ms, 100_000);  // 7 -> 6

        Assert.Equal([6, 7, 8, 7, 7], governor.History);
        Assert.Equal(6, governor.Level);
    }

    [Fact]
    public void Each_algorithm_has_its_own_range_gzip_from_6_and_zstd_from_3_both_between_1_and_9()
    {
        Assert.Equal(new CompressionLevels(6, 1, 9), new CompressionGovernor(StreamCompression.Gzip).Levels);
        Assert.Equal(new CompressionLevels(3, 1, 9), new CompressionGovernor(StreamCompression.Zstd).Levels);
        Assert.Equal(6, new CompressionGovernor().Level);
        Assert.Equal(StreamCompression.Gzip, new CompressionGovernor().Compression);

        var up = new CompressionGovernor(StreamCompression.Zstd);
        for (var i = 0; i < 9; i++)
            up.Observe(producing: 10 * Ms, waiting: 50 * Ms, bytes: 100_000);
        Assert.Equal([3, 4, 5, 6, 7, 8, 9, 9, 9], up.History);

        var down = new CompressionGovernor(StreamCompression.Zstd, headroom: 0);
        for (var i = 0; i < 4; i++)
            down.Observe(producing: 10 * Ms, waiting: TimeSpan.Zero, bytes: 100_000);
        Assert.Equal([3, 2, 1, 1], down.History);
        Assert.Equal(1, down.Level);
    }

    [Fact]
    public async Task A_slow_link_on_the_fake_clock_makes_later_units_smaller_and_the_members_are_one_gzip_stream()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        var html = string.Concat(Enumerable.Range(0, 40_000).Select(i => $"<li><a href=\"/post/{i * 7919 % 10007}/\">post {i % 97}</a></li>\n"));
        for (var i = 0; i < 4; i++)
            kit.Write($"page-{i}/index.html", html);
        var candidate = await kit.CandidateAsync();
        var plan = DeltaPlan.Compute(candidate.Manifest, null, null);
        var part = new UploadPart(0, plan.Link, plan.Send);
        var clock = new FakeTimeProvider();
        var governor = new CompressionGovernor();
        var units = new List<UploadUnit>();

        // The link drains 1 MB/s: each handing on takes its bytes' time; compressing takes none on this clock.
        await new ReleaseStream(candidate, null, part, StreamCompression.Gzip, clock).WriteUnitsAsync((unit, _) =>
        {
            units.Add(unit);
            clock.Advance(TimeSpan.FromSeconds(unit.Data.Length / 1_000_000.0));
            return ValueTask.CompletedTask;
        }, governor, 0, CancellationToken.None);

        Assert.True(units.Count >= 4, $"{units.Count} units");
        Assert.Equal(Enumerable.Range(0, units.Count).Select(i => Math.Min(9, 6 + i)), units.Select(u => u.Level));
        Assert.All(units.SkipLast(1), u => Assert.Equal(0, u.TarEnd % UploadUnits.TarBytesPerUnit));
        // Harder levels for the same kind of bytes: the level-9 units are smaller than the level-6 one.
        Assert.True(units[3].Data.Length < units[0].Data.Length, $"{units[3].Data.Length} < {units[0].Data.Length}");

        var files = ReadTar(units.SelectMany(u => u.Data).ToArray());
        Assert.Equal(html, files[$".{candidate.ReleaseId}.partial/page-2/index.html"]);
        Assert.Equal(4, files.Keys.Count(k => k.EndsWith("index.html", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_busybox_server_extracts_an_upload_of_many_members()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.BusyBox);
        var html = string.Concat(Enumerable.Range(0, 30_000).Select(i => $"<p>{i % 101} {i * 31 % 977}</p>\n"));
        for (var i = 0; i < 20; i++)
            kit.Write($"p/{i}/index.html", html + i);
        var candidate = await kit.CandidateAsync();

        var deploy = await kit.DeployAsync(candidate);

        var tar = candidate.Manifest.TotalBytes;
        Assert.True(tar > 3 * UploadUnits.TarBytesPerUnit, $"{tar} bytes: several members");
        Assert.True(deploy.Upload!.BytesSent < tar / 4, $"{deploy.Upload.BytesSent} of {tar} sent: compressed");
        Assert.Equal(html + "5", File.ReadAllText(Path.Join(kit.Current, "p", "5", "index.html")));
    }

    internal static Dictionary<string, string> ReadTar(byte[] gzip)
    {
        using var reader = new TarReader(new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress));
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.GetNextEntry() is { } entry)
            if (entry.EntryType == TarEntryType.RegularFile && entry.DataStream is { } data)
                files[entry.Name] = new StreamReader(data).ReadToEnd();
        return files;
    }
}
