using System.Formats.Tar;
using Build.Deployment;
using Build.Deployment.Release;
using Build.Deployment.Reports;

using System.Runtime.Versioning;

namespace Build.Tests.Deployment.Release;

[UnsupportedOSPlatform("windows")]
public sealed class UploadPartTests
{
    private const string BaseId = "20260101T000000Z-00000001";

    private static Manifest Posts(int count, long size = 1000) =>
        new(Enumerable.Range(0, count).Select(i => new ManifestEntry($"{2020 + i % 3}/{i % 12:00}/post-{i:0000}/index.html", size, $"{i:x64}", 0b110_100_100)));

    [Fact]
    public void Parts_cover_every_file_once_in_path_order_and_keep_links_and_sends_apart()
    {
        var next = Posts(600);
        var current = new Manifest(next.Entries.Where((_, i) => i % 3 != 0));
        var plan = DeltaPlan.Compute(next, BaseId, current);

        var parts = UploadPart.Split(next, plan, maxParts: 2, minEntries: 100);

        Assert.Equal([0, 1], parts.Select(p => p.Index));
        Assert.True(parts[0].CarriesManifest);
        Assert.False(parts[1].CarriesManifest);
        var all = parts.SelectMany(p => p.Link.Concat(p.Send).OrderBy(e => e.Path, StringComparer.Ordinal)).Select(e => e.Path).ToList();
        Assert.Equal(next.Entries.Select(e => e.Path), all);
        Assert.Equal(plan.Send.Select(e => e.Path).Order(StringComparer.Ordinal), parts.SelectMany(p => p.Send).Select(e => e.Path).Order(StringComparer.Ordinal));
        Assert.Equal(plan.Link.Select(e => e.Path).Order(StringComparer.Ordinal), parts.SelectMany(p => p.Link).Select(e => e.Path).Order(StringComparer.Ordinal));
        // Contiguous: every path of part 0 sorts before every path of part 1, so they share few directories.
        var last0 = parts[0].Link.Concat(parts[0].Send).Select(e => e.Path).Max(StringComparer.Ordinal);
        var first1 = parts[1].Link.Concat(parts[1].Send).Select(e => e.Path).Min(StringComparer.Ordinal);
        Assert.True(string.CompareOrdinal(last0, first1) < 0, $"{last0} < {first1}");
    }

    [Fact]
    public void Parts_share_the_work_evenly_and_big_files_count_for_their_bytes()
    {
        var even = Posts(1000);
        var parts = UploadPart.Split(even, DeltaPlan.Compute(even, null, null), maxParts: 4, minEntries: 100);
        Assert.Equal(4, parts.Count);
        Assert.All(parts, p => Assert.InRange(p.Send.Count, 200, 300));

        // One 50 MB file at the end of the order is most of the work: it gets a part nearly to itself.
        var heavy = new Manifest(Posts(300).Entries.Append(new ManifestEntry("zz/video.mp4", 50_000_000, new string('f', 64), 0b110_100_100)));
        var split = UploadPart.Split(heavy, DeltaPlan.Compute(heavy, null, null), maxParts: 2, minEntries: 100);
        Assert.Equal(2, split.Count);
        Assert.Equal(300, split[0].Send.Count);
        Assert.Equal(["zz/video.mp4"], split[1].Send.Select(e => e.Path));
    }

    [Theory]
    [InlineData(1, 2, 100, 1)]
    [InlineData(199, 2, 100, 1)]
    [InlineData(200, 2, 100, 2)]
    [InlineData(5000, 2, 100, 2)]
    [InlineData(5000, 1, 100, 1)]
    [InlineData(0, 2, 100, 1)]
    public void Small_uploads_stay_in_one_stream(int files, int maxParts, int minEntries, int expected)
    {
        var manifest = Posts(files);
        var parts = UploadPart.Split(manifest, DeltaPlan.Compute(manifest, null, null), maxParts, minEntries);
        Assert.Equal(expected, parts.Count);
        Assert.Equal(files, parts.Sum(p => p.Send.Count));
    }

    [Fact]
    public async Task Each_part_stream_holds_only_its_own_directories_and_only_part_0_the_manifest()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        kit.Write("a/x/1.html", "1");
        kit.Write("a/y/2.html", "2");
        kit.Write("b/z/3.html", "3");
        kit.Write("b/z/4.html", "4");
        var candidate = await kit.CandidateAsync();
        var plan = DeltaPlan.Compute(candidate.Manifest, null, null);
        var parts = UploadPart.Split(candidate.Manifest, plan, maxParts: 2, minEntries: 1);
        Assert.Equal(2, parts.Count);

        var id = candidate.ReleaseId;
        var names = new List<List<string>>();
        foreach (var part in parts)
        {
            using var buffer = new MemoryStream();
            await new ReleaseStream(candidate, null, part, StreamCompression.None).WriteAsync(buffer, CancellationToken.None);
            buffer.Position = 0;
            using var reader = new TarReader(buffer);
            var list = new List<string>();
            while (reader.GetNextEntry() is { } entry)
                list.Add(entry.Name);
            names.Add(list);
        }
        Assert.Equal([$".{id}.partial/", $".{id}.partial/a/", $".{id}.partial/a/x/", $".{id}.partial/a/y/",
            $".{id}.partial/a/x/1.html", $".{id}.partial/a/y/2.html", $".{id}.deploy/", $".{id}.deploy/manifest.compact", $".{id}.deploy/manifest.json", $".{id}.deploy/meta"], names[0]);
        Assert.Equal([$".{id}.partial/", $".{id}.partial/b/", $".{id}.partial/b/z/", $".{id}.partial/b/z/3.html", $".{id}.partial/b/z/4.html"], names[1]);
    }

    [Fact]
    public async Task Every_entry_of_a_part_comes_after_a_directory_entry_for_each_of_its_parents()
    {
        // Parts extract side by side into shared directories: a file whose parent another part creates meanwhile
        // can fail in GNU tar (open: ENOENT, then mkdir: EEXIST, and it gives up), so no part relies on implicit parents.
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        kit.Generate(80, 100);
        var candidate = await kit.CandidateAsync();
        var plan = DeltaPlan.Compute(candidate.Manifest, null, null);
        foreach (var part in UploadPart.Split(candidate.Manifest, plan, maxParts: 3, minEntries: 1))
        {
            using var buffer = new MemoryStream();
            await new ReleaseStream(candidate, null, part, StreamCompression.None).WriteAsync(buffer, CancellationToken.None);
            buffer.Position = 0;
            using var reader = new TarReader(buffer);
            var directories = new HashSet<string>(StringComparer.Ordinal) { "" };
            while (reader.GetNextEntry() is { } entry)
            {
                var name = entry.Name.TrimEnd('/');
                var parent = name.Contains('/') ? name[..name.LastIndexOf('/')] : "";
                Assert.True(directories.Contains(parent), $"part {part.Index}: {entry.Name} before a directory entry for {parent}");
                if (entry.EntryType == TarEntryType.Directory) directories.Add(name);
            }
        }
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_deploy_in_parallel_parts_builds_the_same_tree_as_one_stream(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(60, 2000);
        var parallel = await kit.DeployAsync();
        Assert.Equal(3, parallel.Upload!.Streams);
        Assert.True(parallel.Upload.StreamHashVerified);
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);

        kit.Generate(60, 2000, seed: 5);
        kit.Options = kit.Options with { UploadStreams = 1 };
        var single = await kit.DeployAsync();
        Assert.Equal(1, single.Upload!.Streams);
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
        // Nothing of the parts is left over: no markers, no staging.
        Assert.Equal([parallel.Id(), single.Id()], kit.ReleaseNames());
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Only_the_part_that_completes_the_set_seals_and_markers_of_another_upload_do_not_count(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(20, 500);
        var candidate = await kit.CandidateAsync();
        var session = kit.Session();
        await session.PrepareAsync(true, CancellationToken.None);
        var plan = DeltaPlan.Compute(candidate.Manifest, null, null);
        var parts = UploadPart.Split(candidate.Manifest, plan, maxParts: 2, minEntries: 1);
        var id = candidate.ReleaseId;

        Task<RemoteResult> Part(int index, string upload) => kit.Shell.RunAsync(RemoteScripts.Upload, [kit.Root, $"{kit.Run.RunId}/default"], async (stream, ct) =>
        {
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes($"{id} {candidate.Manifest.Count} {candidate.Manifest.TotalBytes} - {index} 2 {upload}\n"), ct);
            await new ReleaseStream(candidate, null, parts[index], StreamCompression.None).WriteAsync(stream, ct);
        }, CancellationToken.None);

        // Part 1 of an earlier, cut upload left its marker; part 0 of this upload must not take it for its partner's.
        var earlier = await Part(1, "0000000000000001");
        Assert.Contains("@part 1", earlier.Output);
        var first = await Part(0, "00000000000000aa");
        Assert.True(first.Succeeded, first.Output + first.Error);
        Assert.Contains("@part 0", first.Output);
        Assert.DoesNotContain(id, kit.ReleaseNames());

        var last = await Part(1, "00000000000000aa");
        Assert.True(last.Succeeded, last.Output + last.Error);
        Assert.Contains($"@staged {id}", last.Output);
        Assert.Equal([id], kit.ReleaseNames());
        ReleaseTestKit.AssertSameTree(kit.Site, kit.ReleaseDir(id));
        Assert.True(File.Exists(Path.Join(kit.Root, ".deploy", "manifests", id + ".json")));
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_failed_part_stops_the_upload_and_nothing_is_staged(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Options = kit.Options with { Compress = false };
        kit.Write("index.html", "one");
        var first = await kit.DeployAsync();
        kit.Generate(60, 2000);
        var candidate = await kit.CandidateAsync();
        // A file of the last part vanishes after hashing: that part fails locally, the others are stopped.
        File.Delete(Path.Join(kit.Site, candidate.Manifest.Entries[^1].Path));

        var error = (await kit.TryDeployAsync(candidate)).Report;
        Assert.Equal(ReleaseFailure.BadInput, error.FailureKind);
        Assert.Contains(Path.GetFileName(candidate.Manifest.Entries[^1].Path), error.Error);
        Assert.Equal(first.Id(), kit.CurrentId());
        Assert.Equal([first.Id()], kit.ReleaseNames());
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
        Assert.False(File.Exists(Path.Join(kit.Root, ".deploy", "manifests", candidate.ReleaseId + ".json")));
    }
}
