using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using Build.Deployment.Release;

namespace Build.Tests.Deployment.Release;

/// <summary>
/// The compact manifest the next deploy downloads (<see cref="CompactManifest"/>): it round-trips, it is small, and
/// whatever a server prints in its place is refused with a reason (so every file is sent), never trusted for a link.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class CompactManifestTests
{
    private const string Id = "20260101T000000Z-0123abcd";
    private const string Older = "20251231T000000Z-89abcdef";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static readonly Manifest Odd = new([
        new ManifestEntry("index.html", 5, Sha("index"), 0b110_100_100),
        new ManifestEntry("index.htm", 0, Sha("empty"), 0b110_100_100),
        new ManifestEntry("new\nline.html", 7, Sha("nl"), 0b110_100_100),
        new ManifestEntry("café/ü ö.html", 9, Sha("utf8"), 0b110_100_100),
        new ManifestEntry("-dash/'quote\".sh", 3, Sha("exec"), 0b111_101_101),
        new ManifestEntry("2026/01/02/a-long-post-title/index.html", 5_000_000_000, Sha("big"), 0b110_100_100),
        new ManifestEntry("2026/01/02/a-long-post-title/image.png", 300, Sha("png"), 0b110_100_100),
        new ManifestEntry("😀/x", 1, Sha("emoji"), 0b110_100_100),
    ]);

    [Fact]
    public void It_round_trips_every_name_size_mode_and_hash_on_one_base64_line()
    {
        var text = CompactManifest.Encode(Odd, Id);

        Assert.Matches("^[A-Za-z0-9+/]+=*$", text);
        var (decoded, release) = CompactManifest.Decode(text + "\n");
        Assert.Equal(Id, release);
        Assert.Equal(Odd.Entries, decoded.Entries);
        Assert.Equal(Odd.Hash, decoded.Hash);

        var (empty, _) = CompactManifest.Decode(CompactManifest.Encode(new Manifest([]), Id));
        Assert.Empty(empty.Entries);
    }

    [Fact]
    public void On_a_blog_sized_site_it_is_under_a_third_of_the_json()
    {
        var manifest = BlogManifest(1829);
        var json = manifest.ToJson(new ReleaseInfo(Id, "c0ffee", DateTimeOffset.UnixEpoch));
        var compact = CompactManifest.Encode(manifest, Id);

        // The hashes alone are 32 bytes a file (43 in base64); the json spends 150 or more.
        Assert.True(compact.Length < json.Length / 3, $"compact {compact.Length} B, json {json.Length} B");
        Assert.True(compact.Length < 1829 * 52, $"compact {compact.Length} B for 1829 files");
        Assert.Equal(manifest.Entries, CompactManifest.Decode(compact).Manifest.Entries);
    }

    /// <summary>Each damage, and what the refusal says (so that it is refused for that reason, not another).</summary>
    public static TheoryData<string, string> Damages() => new()
    {
        { "empty", "is empty" }, { "not-base64", "not base64" }, { "not-gzip", "not a valid gzip" }, { "cut-base64", "cut short" },
        { "cut-body", "cut short" }, { "trailing-bytes", "bytes after its entries" }, { "magic", "unknown format" },
        { "count-beyond-body", "out of range" }, { "unordered", "not in order" }, { "duplicate", "not in order" },
        { "dot-dot", "malformed path" }, { "leading-slash", "malformed path" }, { "empty-segment", "malformed path" }, { "nul", "malformed path" },
        { "not-utf8", "not UTF-8" }, { "shared-beyond-previous", "out of range" }, { "mode-range", "out of range" },
        { "varint-overflow", "malformed number" }, { "size-overflow", "out of range" }, { "hash-flipped", "does not match its recorded hash" },
        { "header-hash", "does not match its recorded hash" }, { "path-too-long", "out of range" },
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public void A_damaged_compact_manifest_is_refused_with_a_format_error_saying_why(string damage, string why)
    {
        var text = damage switch
        {
            "empty" => " ",
            "not-base64" => "this is not base64!",
            "not-gzip" => Convert.ToBase64String(Encoding.ASCII.GetBytes("plain bytes, no gzip header")),
            "cut-base64" => CompactManifest.Encode(Odd, Id)[..40],
            "cut-body" => Pack(Body(Odd)[..^10]),
            "trailing-bytes" => Pack([.. Body(Odd), 0]),
            "magic" => Pack(Body(Odd, magic: "DMC9")),
            "count-beyond-body" => Pack(Body(Odd, count: 1_000_000)),
            "unordered" => Pack(Body(Odd, paths: ["b", "a"])),
            "duplicate" => Pack(Body(Odd, paths: ["a", "a"])),
            "dot-dot" => Pack(Body(Odd, paths: ["../etc/passwd"])),
            "leading-slash" => Pack(Body(Odd, paths: ["/etc/passwd"])),
            "empty-segment" => Pack(Body(Odd, paths: ["a//b"])),
            "nul" => Pack(Body(Odd, paths: ["a\0b"])),
            "not-utf8" => Pack(Body(Odd, rawPath: [0x61, 0xC3, 0x28])),
            "shared-beyond-previous" => Pack(Body(Odd, paths: ["a", "ab"], shared: 5)),
            "mode-range" => Pack(Body(Odd, mode: 0b1_000_000_000_000)),
            "varint-overflow" => Pack(Body(Odd, rawSize: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])),
            "size-overflow" => Pack(Body(Odd, rawSize: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])),
            "hash-flipped" => Pack(Body(Odd, flipHashByte: true)),
            "header-hash" => Pack(Body(Odd, headerHash: Sha("another manifest"))),
            _ => Pack(Body(Odd, paths: [new string('a', CompactManifest.MaxPathBytes + 1)])),
        };
        var e = Assert.Throws<FormatException>(() => CompactManifest.Decode(text));
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void A_zip_bomb_is_refused_once_it_inflates_beyond_the_bound_without_being_read_to_its_end()
    {
        // 256 MB of zeros gzip to about 256 KB; the reader stops at its bound instead of inflating all of it.
        var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(Body(Odd));
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i < 256; i++) gzip.Write(zeros);
        }
        var text = Convert.ToBase64String(packed.GetBuffer(), 0, (int)packed.Length);
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<FormatException>(() => CompactManifest.Decode(text));
        Assert.Contains("inflates beyond", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
    }

    [Fact]
    public void The_state_takes_the_compact_manifest_only_for_the_current_release_sealed_and_matching_its_meta()
    {
        var compact = CompactManifest.Encode(Odd, Id);
        string Reply(string manifestLine, string? metaHash = null, bool sealedMarker = true) =>
            $"@lock taken\n@current-link releases/{Id}\n@current {Id}\n@release {Older}\n@release {Id}\n"
            + (metaHash is null ? "" : $"@meta {{\"release\":\"{Id}\",\"commit\":null,\"created\":\"2026-01-01T00:00:00Z\",\"hash\":\"{metaHash}\",\"files\":8,\"bytes\":1}}\n")
            + manifestLine + "\n" + (sealedMarker ? "@sealed\n" : "") + "@end\n";

        var good = RemoteState.Parse(Reply("@manifest-compact " + compact, Odd.Hash));
        Assert.Null(good.ManifestProblem);
        Assert.Equal(Odd.Entries, good.CurrentManifest!.Entries);

        // Another release's compact manifest, one its meta disagrees with, one without a meta, one not sealed, garbage.
        var other = RemoteState.Parse(Reply("@manifest-compact " + CompactManifest.Encode(Odd, Older), Odd.Hash));
        Assert.Contains("names another release", other.ManifestProblem);
        var stale = RemoteState.Parse(Reply("@manifest-compact " + compact, new Manifest([]).Hash));
        Assert.Contains("does not match its release's recorded hash", stale.ManifestProblem);
        var noMeta = RemoteState.Parse(Reply("@manifest-compact " + compact));
        Assert.Contains("does not match", noMeta.ManifestProblem);
        var notSealed = RemoteState.Parse(Reply("@manifest-compact " + compact, Odd.Hash, sealedMarker: false));
        Assert.Contains("no seal marker", notSealed.ManifestProblem);
        var garbage = RemoteState.Parse(Reply("@manifest-compact H4sIAAAA\u001b[2J", Odd.Hash));
        Assert.Contains("unusable", garbage.ManifestProblem);
        foreach (var state in new[] { other, stale, noMeta, notSealed, garbage })
        {
            Assert.Null(state.CurrentManifest);
            Assert.Empty(state.EditedOnServer);
        }

        // A release sealed by an older deploy has only its json.
        var json = RemoteState.Parse(Reply("@manifest " + Odd.ToJson(new ReleaseInfo(Id, null, DateTimeOffset.UnixEpoch))));
        Assert.Equal(Odd.Hash, json.CurrentManifest!.Hash);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task The_server_stores_the_compact_manifest_prints_it_instead_of_the_json_and_prunes_it(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Options = kit.Options with { KeepReleases = 1 };
        kit.Generate(12, 300);
        kit.Write("index.html", "home");
        kit.Write("new\nline.html", "<p>one</p>");
        var first = await kit.DeployAsync().WaitAsync(Bound);
        var stored = Path.Join(kit.Root, ".deploy", "manifests", first.Id() + ".compact");
        Assert.True(File.Exists(Path.Join(kit.Root, ".deploy", "manifests", first.Id() + ".json")));
        Assert.Equal(first.Id(), CompactManifest.Decode(await File.ReadAllTextAsync(stored)).ReleaseId);

        var reply = await kit.Shell.RunAsync(RemoteScripts.Prepare, [kit.Root, "run-x/default", "look", "0", "yes", "", "-", "*"], null, CancellationToken.None);
        Assert.Contains("\n@manifest-compact ", reply.Output);
        Assert.DoesNotContain("\n@manifest {", reply.Output);

        kit.Write("index.html", "changed");
        var second = await kit.DeployAsync().WaitAsync(Bound);
        Assert.Equal(1, second.Upload!.FilesSent);
        Assert.Equal(13, second.Upload.FilesLinked);
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);

        // Pruning a release takes its compact manifest with it.
        kit.Write("index.html", "changed again");
        var third = await kit.DeployAsync().WaitAsync(Bound);
        Assert.DoesNotContain(first.Id(), kit.ReleaseNames());
        Assert.False(File.Exists(stored));
        Assert.True(File.Exists(Path.Join(kit.Root, ".deploy", "manifests", third.Id() + ".compact")));
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_release_without_a_compact_manifest_is_compared_through_its_json(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(10, 300);
        kit.Write("index.html", "home");
        var first = await kit.DeployAsync().WaitAsync(Bound);
        File.Delete(Path.Join(kit.Root, ".deploy", "manifests", first.Id() + ".compact")); // as an older deploy left it

        kit.Write("index.html", "changed");
        var second = await kit.DeployAsync().WaitAsync(Bound);
        Assert.Equal(1, second.Upload!.FilesSent);
        Assert.Equal(10, second.Upload.FilesLinked);
        Assert.DoesNotContain(kit.Progress.Lines, l => l.Contains("warning", StringComparison.Ordinal));
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu, "garbage")]
    [InlineData(ShellFlavor.BusyBox, "garbage")]
    [InlineData(ShellFlavor.Gnu, "another-release")]
    [InlineData(ShellFlavor.Gnu, "lying")]
    public async Task A_corrupt_or_mismatching_compact_manifest_sends_every_file_with_a_warning(ShellFlavor flavor, string damage)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(10, 300);
        kit.Write("index.html", "home");
        var first = await kit.DeployAsync().WaitAsync(Bound);
        var stored = Path.Join(kit.Root, ".deploy", "manifests", first.Id() + ".compact");
        var real = CompactManifest.Decode(await File.ReadAllTextAsync(stored)).Manifest;
        await File.WriteAllTextAsync(stored, damage switch
        {
            "garbage" => "H4sI\u0000\u001b[2J" + new string('A', 5000) + "\n",
            "another-release" => CompactManifest.Encode(real, "20250101T000000Z-00000000"),
            // Claims a file holds what the site now holds: believed, it would link the stale file into the new release.
            _ => CompactManifest.Encode(new Manifest(real.Entries.Select(e => e.Path == "index.html" ? e with { Size = 7, Sha256 = Sha256Hex("changed") } : e)), first.Id()),
        });

        kit.Write("index.html", "changed");
        var second = await kit.DeployAsync().WaitAsync(Bound);

        Assert.Equal(11, second.Upload!.FilesSent);
        Assert.Equal(0, second.Upload.FilesLinked);
        Assert.Contains(kit.Progress.Lines, l => l.Contains("warning", StringComparison.Ordinal) && l.Contains("sending every file", StringComparison.Ordinal));
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
    }

    /// <summary>A Hexo-like site: posts by date, tag and category pages, archives, assets.</summary>
    private static Manifest BlogManifest(int files)
    {
        var random = new Random(7);
        var entries = new List<ManifestEntry>();
        string[] kinds = ["2026/{0:00}/{1:00}/post-number-{2}-about-things/index.html", "tags/tag-{2}/index.html", "archives/2026/{0:00}/page/{2}/index.html",
            "categories/category-{2}/index.html", "images/{2}/photo.jpg"];
        for (var i = 0; i < files; i++)
        {
            var path = string.Format(System.Globalization.CultureInfo.InvariantCulture, kinds[i % kinds.Length], 1 + i % 12, 1 + i % 28, i);
            entries.Add(new ManifestEntry(path, random.Next(2_000, 60_000), Sha256Hex(path), 0b110_100_100));
        }
        return new Manifest(entries);
    }

    private static string Sha(string seed) => Sha256Hex(seed);

    private static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static string Pack(byte[] body)
    {
        var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(body);
        return Convert.ToBase64String(packed.GetBuffer(), 0, (int)packed.Length);
    }

    /// <summary>
    /// The decoded body, written independently of the encoder (the format, as documented), with knobs to damage it:
    /// other paths (their shared prefixes computed, or forced), a raw path, a count, a mode, a raw size, a flipped hash byte.
    /// </summary>
    private static byte[] Body(Manifest manifest, string magic = "DMC1", string[]? paths = null, int? shared = null, byte[]? rawPath = null,
        int? count = null, int? mode = null, byte[]? rawSize = null, bool flipHashByte = false, string? headerHash = null)
    {
        var pathBytes = rawPath is not null ? [rawPath] : (paths ?? manifest.Entries.Select(e => e.Path).ToArray()).Select(Encoding.UTF8.GetBytes).ToArray();
        var n = pathBytes.Length;
        var body = new MemoryStream();
        body.Write(Encoding.ASCII.GetBytes(magic));
        var id = Encoding.UTF8.GetBytes(Id);
        Varint(body, (ulong)id.Length);
        body.Write(id);
        body.Write(Convert.FromHexString(headerHash ?? new Manifest(Entries(manifest, pathBytes)).Hash));
        Varint(body, (ulong)(count ?? n));
        var previous = Array.Empty<byte>();
        foreach (var path in pathBytes)
        {
            var common = shared ?? path.AsSpan().CommonPrefixLength(previous);
            Varint(body, (ulong)common);
            Varint(body, (ulong)Math.Max(0, path.Length - common));
            body.Write(path, Math.Min(common, path.Length), Math.Max(0, path.Length - common));
            previous = path;
        }
        for (var i = 0; i < n; i++)
        {
            if (rawSize is not null && i == 0) body.Write(rawSize);
            else Varint(body, (ulong)manifest.Entries[i % manifest.Count].Size);
        }
        for (var i = 0; i < n; i++) Varint(body, (ulong)(mode ?? manifest.Entries[i % manifest.Count].Mode));
        for (var i = 0; i < n; i++)
        {
            var hash = Convert.FromHexString(manifest.Entries[i % manifest.Count].Sha256);
            if (flipHashByte && i == n - 1) hash[5] ^= 0x10;
            body.Write(hash);
        }
        return body.ToArray();
    }

    /// <summary>The entries a body built by <see cref="Body"/> describes when its paths are well-formed (for its header hash).</summary>
    private static IEnumerable<ManifestEntry> Entries(Manifest manifest, byte[][] paths)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < paths.Length; i++)
        {
            var name = Encoding.UTF8.GetString(paths[i]);
            if (!names.Add(name)) yield break; // a duplicate cannot make a manifest; its header hash does not matter
            var e = manifest.Entries[i % manifest.Count];
            yield return e with { Path = name };
        }
    }

    private static void Varint(Stream stream, ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        stream.WriteByte((byte)value);
    }
}
