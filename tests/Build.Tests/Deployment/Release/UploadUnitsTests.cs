using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using Build.Deployment;
using Build.Deployment.Release;
using Microsoft.Extensions.Time.Testing;
using ZstdSharp;

namespace Build.Tests.Deployment.Release;

[UnsupportedOSPlatform("windows")]
public sealed class UploadUnitsTests
{
    private static readonly byte[] ZstdMagic = [0x28, 0xB5, 0x2F, 0xFD];

    /// <summary>HTML-like bytes, compressible like a blog's pages: words drawn at random from a vocabulary, in markup.</summary>
    private static byte[] Pages(int bytes)
    {
        var random = new Random(7);
        var words = Enumerable.Range(0, 2000).Select(_ => new string(Enumerable.Range(0, random.Next(2, 11)).Select(_ => (char)('a' + random.Next(26))).ToArray())).ToArray();
        var text = new StringBuilder();
        while (text.Length < bytes)
        {
            text.Append(string.Create(CultureInfo.InvariantCulture, $"<p><a href=\"/post/{random.Next(1000)}/\">"));
            for (var i = random.Next(5, 40); i > 0; i--)
                text.Append(words[random.Next(words.Length)]).Append(' ');
            text.Append("</a></p>\n");
        }
        return Encoding.ASCII.GetBytes(text.ToString())[..bytes];
    }

    private static async Task<List<UploadUnit>> UnitsAsync(byte[] tar, StreamCompression compression, CompressionGovernor governor, TimeProvider? time = null,
        long skip = 0, Action<UploadUnit>? onEmit = null)
    {
        var units = new List<UploadUnit>();
        await using var sink = new UploadUnits((unit, _) =>
        {
            units.Add(unit);
            onEmit?.Invoke(unit);
            return ValueTask.CompletedTask;
        }, compression, governor, time ?? TimeProvider.System, skip);
        // Odd-sized writes, as TarWriter's are not aligned to units either.
        for (var offset = 0; offset < tar.Length; offset += 100_003)
            await sink.WriteAsync(tar.AsMemory(offset, Math.Min(100_003, tar.Length - offset)));
        await sink.CompleteAsync(CancellationToken.None);
        return units;
    }

    [Fact]
    public async Task Each_zstd_unit_is_one_frame_that_decodes_alone_to_exactly_its_share_of_tar()
    {
        var tar = Pages(3 * UploadUnits.TarBytesPerUnit + 12_345);

        var units = await UnitsAsync(tar, StreamCompression.Zstd, new CompressionGovernor(StreamCompression.Zstd));

        Assert.Equal([UploadUnits.TarBytesPerUnit, 2L * UploadUnits.TarBytesPerUnit, 3L * UploadUnits.TarBytesPerUnit, tar.Length], units.Select(u => u.TarEnd));
        using var decompressor = new Decompressor();
        long start = 0;
        foreach (var unit in units)
        {
            Assert.Equal(ZstdMagic, unit.Data[..4]);
            Assert.Equal((ulong)(unit.TarEnd - start), Decompressor.GetDecompressedSize(unit.Data)); // one frame, its size recorded
            Assert.Equal(tar[(int)start..(int)unit.TarEnd], decompressor.Unwrap(unit.Data).ToArray());
            start = unit.TarEnd;
        }
        Assert.True(units.Sum(u => u.Data.Length) < tar.Length / 2, $"{units.Sum(u => u.Data.Length)} of {tar.Length}: compressed");
        // Concatenated, the frames are one stream for a streaming decoder.
        await using var whole = new DecompressionStream(new MemoryStream(units.SelectMany(u => u.Data).ToArray()));
        using var decoded = new MemoryStream();
        await whole.CopyToAsync(decoded);
        Assert.Equal(tar, decoded.ToArray());
    }

    [Fact]
    public async Task The_zstd_binary_decodes_the_concatenated_frames_to_the_tar()
    {
        var tar = Pages(2 * UploadUnits.TarBytesPerUnit + 777);
        var units = await UnitsAsync(tar, StreamCompression.Zstd, new CompressionGovernor(StreamCompression.Zstd));

        var start = new ProcessStartInfo(LocalShell.Which("zstd"), ["-dcq"])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var zstd = Process.Start(start)!;
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var feed = Task.Run(async () =>
        {
            foreach (var unit in units)
                await zstd.StandardInput.BaseStream.WriteAsync(unit.Data, bound.Token);
            zstd.StandardInput.Close();
        });
        using var output = new MemoryStream();
        var error = zstd.StandardError.ReadToEndAsync(bound.Token);
        await zstd.StandardOutput.BaseStream.CopyToAsync(output, bound.Token);
        await feed;
        await zstd.WaitForExitAsync(bound.Token);

        Assert.True(zstd.ExitCode == 0, await error);
        Assert.Equal(tar, output.ToArray());
    }

    [Fact]
    public async Task Zstd_levels_follow_the_governor_from_3_up_to_9_on_a_slow_link()
    {
        // Every unit holds the same bytes, so that their sizes compare the levels alone.
        var page = Pages(UploadUnits.TarBytesPerUnit);
        var tar = Enumerable.Repeat(page, 8).SelectMany(p => p).ToArray();
        var clock = new FakeTimeProvider();
        var governor = new CompressionGovernor(StreamCompression.Zstd);

        // The link drains 1 MB/s: handing a unit on takes its bytes' time; compressing takes none on this clock.
        var units = await UnitsAsync(tar, StreamCompression.Zstd, governor, clock,
            onEmit: unit => clock.Advance(TimeSpan.FromSeconds(unit.Data.Length / 1_000_000.0)));

        Assert.Equal([3, 4, 5, 6, 7, 8, 9, 9], units.Select(u => u.Level));
        Assert.Equal(units.Select(u => u.Level), governor.History);
        // Same bytes, harder level: the level-9 frame is smaller than the level-3 one.
        Assert.True(units[6].Data.Length < units[0].Data.Length, $"{units[6].Data.Length} < {units[0].Data.Length}");
    }

    [Fact]
    public async Task Zstd_levels_go_down_to_1_when_compressing_is_what_the_upload_waits_for()
    {
        var tar = Pages(5 * UploadUnits.TarBytesPerUnit);
        var clock = new FakeTimeProvider();
        var governor = new CompressionGovernor(StreamCompression.Zstd, headroom: 0);

        // Every write costs 10 ms of "CPU" on this clock; handing on costs nothing.
        var units = new List<UploadUnit>();
        await using (var sink = new UploadUnits((unit, _) => { units.Add(unit); return ValueTask.CompletedTask; }, StreamCompression.Zstd, governor, clock))
        {
            for (var offset = 0; offset < tar.Length; offset += 65_536)
            {
                clock.Advance(TimeSpan.FromMilliseconds(10));
                await sink.WriteAsync(tar.AsMemory(offset, 65_536));
            }
            await sink.CompleteAsync(CancellationToken.None);
        }

        Assert.Equal([3, 2, 1, 1, 1], units.Select(u => u.Level));
    }

    [Fact]
    public async Task A_stream_restarted_at_a_unit_boundary_sends_only_the_units_after_it()
    {
        var tar = Pages(4 * UploadUnits.TarBytesPerUnit + 999);
        var whole = await UnitsAsync(tar, StreamCompression.Zstd, new CompressionGovernor(StreamCompression.Zstd));

        var rest = await UnitsAsync(tar, StreamCompression.Zstd, new CompressionGovernor(StreamCompression.Zstd), skip: 2L * UploadUnits.TarBytesPerUnit);

        Assert.Equal(whole.Skip(2).Select(u => u.TarEnd), rest.Select(u => u.TarEnd));
        using var decompressor = new Decompressor();
        var decoded = rest.SelectMany(u => decompressor.Unwrap(u.Data).ToArray()).ToArray();
        Assert.Equal(tar[(2 * UploadUnits.TarBytesPerUnit)..], decoded);
        // The first units sent and the rest decode as one tar stream: a server that fell behind goes on seamlessly.
        Assert.Equal(tar, whole.Take(2).Concat(rest).SelectMany(u => decompressor.Unwrap(u.Data).ToArray()).ToArray());
    }

    [Fact]
    public void A_governor_of_another_algorithm_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            new UploadUnits((_, _) => ValueTask.CompletedTask, StreamCompression.Zstd, new CompressionGovernor(StreamCompression.Gzip), TimeProvider.System));
        Assert.Contains("gzip governor cannot choose zstd levels", error.Message);
    }

    [Fact]
    public async Task A_zstd_stream_with_a_whole_tar_then_garbage_fails_the_part_though_tar_succeeded()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        kit.Generate(20, 3000);
        var candidate = await kit.CandidateAsync();
        var session = kit.Session();
        await session.PrepareAsync(true, CancellationToken.None);
        var plan = DeltaPlan.Compute(candidate.Manifest, null, null);
        var id = candidate.ReleaseId;

        var result = await kit.Shell.RunAsync(RemoteScripts.Upload, [kit.Root, $"{kit.Run.RunId}/default"], async (stream, ct) =>
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes($"{id} {candidate.Manifest.Count} {candidate.Manifest.TotalBytes} Z 0 1 00000000000000aa -\n"), ct);
            await new ReleaseStream(candidate, null, new UploadPart(0, plan.Link, plan.Send), StreamCompression.Zstd).WriteAsync(stream, ct);
            // tar has read its end-of-archive blocks by now, or reads them before zstd reaches this.
            await stream.WriteAsync(Encoding.ASCII.GetBytes("this is not a zstd frame, it is trailing garbage\n"), ct);
        }, CancellationToken.None);

        Assert.Equal(RemoteScripts.ExitCodes.VerifyFailed, result.ExitStatus);
        Assert.Contains("@fail zstd exited with status 1", result.Output);
        Assert.Contains("@tar ", result.Output); // zstd's own message
        Assert.DoesNotContain("@staged", result.Output);
        Assert.DoesNotContain(id, kit.ReleaseNames());
        Assert.False(File.Exists(Path.Join(kit.Root, ".deploy", "manifests", id + ".json")));
        Assert.Empty(Directory.GetDirectories(Path.Join(kit.Root, ".deploy"), "tmp.*"));
    }

    [Fact]
    public async Task A_zstd_stream_to_a_server_without_zstd_fails_the_part_under_busybox_sh()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.BusyBox);
        kit.Generate(5, 3000);
        var candidate = await kit.CandidateAsync();
        await kit.Session().PrepareAsync(true, CancellationToken.None);
        var plan = DeltaPlan.Compute(candidate.Manifest, null, null);
        var id = candidate.ReleaseId;

        var result = await kit.Shell.RunAsync(RemoteScripts.Upload, [kit.Root, $"{kit.Run.RunId}/default"], async (stream, ct) =>
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes($"{id} {candidate.Manifest.Count} {candidate.Manifest.TotalBytes} Z 0 1 00000000000000aa -\n"), ct);
            try
            {
                await new ReleaseStream(candidate, null, new UploadPart(0, plan.Link, plan.Send), StreamCompression.Zstd).WriteAsync(stream, ct);
            }
            catch (IOException)
            {
                // The script may give up before the whole stream is written.
            }
        }, CancellationToken.None);

        Assert.Equal(RemoteScripts.ExitCodes.VerifyFailed, result.ExitStatus);
        Assert.Contains("@fail zstd exited with status 127", result.Output); // not found
        Assert.DoesNotContain(id, kit.ReleaseNames());
        Assert.Empty(Directory.GetDirectories(Path.Join(kit.Root, ".deploy"), "tmp.*"));
    }
}
