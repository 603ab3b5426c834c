using System.Formats.Tar;
using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Release;
using Build.Settings;

namespace Build.Tests.Deployment.Release;

[UnsupportedOSPlatform("windows")]
public sealed class ReleaseUnitTests
{
    [Fact]
    public async Task Manifest_lists_every_file_with_size_hash_and_mode_and_round_trips_through_json()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        kit.Write("index.html", "hello");
        kit.Write(".well-known/x.txt", "", 0b111_101_101);
        kit.Write("a/b/c d.html", "nested");
        var candidate = await kit.CandidateAsync("c0ffee");
        var manifest = candidate.Manifest;

        Assert.Equal([".well-known/x.txt", "a/b/c d.html", "index.html"], manifest.Entries.Select(e => e.Path));
        var index = manifest.ByPath["index.html"];
        Assert.Equal(5, index.Size);
        Assert.Equal("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", index.Sha256);
        Assert.Equal(0b110_100_100, index.Mode);
        Assert.Equal(0b111_101_101, manifest.ByPath[".well-known/x.txt"].Mode);
        Assert.Equal(11, manifest.TotalBytes);

        Assert.True(ServerName.IsReleaseId(candidate.ReleaseId), candidate.ReleaseId);
        Assert.Equal($"20260102T030505Z-{manifest.Hash[..8]}", candidate.ReleaseId);
        Assert.DoesNotContain('\n', candidate.ManifestJson.TrimEnd('\n'));
        var (parsed, info) = Manifest.FromJson(candidate.ManifestJson);
        Assert.Equal(manifest.Hash, parsed.Hash);
        Assert.Equal(manifest.Entries, parsed.Entries);
        Assert.Equal(("c0ffee", candidate.ReleaseId), (info.Commit, info.ReleaseId));

        // A tampered manifest is rejected rather than trusted for hard links.
        Assert.Throws<FormatException>(() => Manifest.FromJson(candidate.ManifestJson.Replace("\"size\":5", "\"size\":6", StringComparison.Ordinal)));
    }

    [Fact]
    public void Delta_sends_changed_content_and_mode_links_the_rest_counts_removals()
    {
        var current = new Manifest([
            new ManifestEntry("same.html", 1, "aa", 0b110_100_100),
            new ManifestEntry("content.html", 1, "bb", 0b110_100_100),
            new ManifestEntry("mode.sh", 1, "cc", 0b110_100_100),
            new ManifestEntry("gone.html", 1, "dd", 0b110_100_100),
        ]);
        var next = new Manifest([
            new ManifestEntry("same.html", 1, "aa", 0b110_100_100),
            new ManifestEntry("content.html", 1, "b2", 0b110_100_100),
            new ManifestEntry("mode.sh", 1, "cc", 0b111_101_101),
            new ManifestEntry("new.html", 3, "ee", 0b110_100_100),
        ]);
        var plan = DeltaPlan.Compute(next, "20260101T000000Z-00000001", current);
        Assert.Equal(["content.html", "mode.sh", "new.html"], plan.Send.Select(e => e.Path));
        Assert.Equal(["same.html"], plan.Link.Select(e => e.Path));
        Assert.Equal(1, plan.Removed);
        Assert.Equal(5, plan.BytesToSend);
        Assert.False(plan.Unchanged);
        Assert.True(DeltaPlan.Compute(current, "20260101T000000Z-00000001", current).Unchanged);
        Assert.Equal(4, DeltaPlan.Compute(next, null, null).Send.Count);
    }

    [Fact]
    public async Task The_stream_holds_directories_files_links_and_the_manifest_last()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        kit.Write("keep/a.html", "a");
        kit.Write("b.html", "b", 0b111_101_101);
        var candidate = await kit.CandidateAsync();
        var plan = DeltaPlan.Compute(candidate.Manifest, "20260101T000000Z-00000001",
            new Manifest([candidate.Manifest.ByPath["keep/a.html"]]));

        using var buffer = new MemoryStream();
        var stats = await new ReleaseStream(candidate, plan.BaseReleaseId, new UploadPart(0, plan.Link, plan.Send), StreamCompression.None).WriteAsync(buffer, CancellationToken.None);
        Assert.Equal(buffer.Length, stats.Bytes);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(buffer.ToArray())), stats.Sha256);

        buffer.Position = 0;
        using var reader = new TarReader(buffer);
        var entries = new List<TarEntry>();
        while (reader.GetNextEntry(copyData: true) is { } entry)
            entries.Add(entry);
        var id = candidate.ReleaseId;
        Assert.Equal([$".{id}.partial/", $".{id}.partial/keep/", $".{id}.partial/keep/a.html", $".{id}.partial/b.html", $".{id}.deploy/", $".{id}.deploy/manifest.compact", $".{id}.deploy/manifest.json", $".{id}.deploy/meta"],
            entries.Select(e => e.Name));
        var link = entries[2];
        Assert.Equal(TarEntryType.HardLink, link.EntryType);
        Assert.Equal("20260101T000000Z-00000001/keep/a.html", link.LinkName);
        Assert.Equal((UnixFileMode)0b111_101_101, entries[3].Mode);
        Assert.Equal(TarEntryType.RegularFile, entries[3].EntryType);
    }

    [Theory]
    [InlineData("relative/path")]
    [InlineData("/")]
    [InlineData("/var/../etc")]
    [InlineData("/var/./www")]
    [InlineData("/var/www\nx")]
    [InlineData("//x")]
    [InlineData("/var//www")]
    public void A_bad_remote_root_is_a_settings_error(string root)
    {
        // One rule (RemoteRoot) for the setting and for every session: a session takes only a RemoteRoot.
        var error = Assert.Throws<SettingsException>(() => RemoteRoot.Of(root));
        Assert.Contains("--remote-root", error.Message);
        Assert.Null(RemoteRoot.Parse(root, out _));
    }

    [Theory]
    [InlineData("20260101T000000Z-0123abcd", true)]
    [InlineData("20260101T000000Z-0123ABCD", false)]
    [InlineData("20260101T000000Z-0123abc", false)]
    [InlineData("20260101T000000Z-0123abcd ", false)]
    [InlineData("../20260101T000000Z-0123abcd", false)]
    [InlineData("", false)]
    public void A_release_id_is_checked_once_by_its_type(string text, bool valid)
    {
        Assert.Equal(valid, ReleaseId.IsValid(text));
        Assert.Equal(valid, ReleaseId.TryParse(text) is not null);
        Assert.Equal(valid, Build.Settings.ServerName.IsReleaseId(text));
        if (valid) Assert.Equal(text, ReleaseId.Parse(text).Value);
        else Assert.Throws<ArgumentException>(() => ReleaseId.Parse(text));
    }

    [Fact]
    public void Lock_owner_file_round_trips_and_log_lines_are_single_lines()
    {
        var run = new ReleaseRun("ci-42-abc", "runner\nevil", 9, "me", "https://ci/job/42", null);
        var owner = run.Owner(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), "web-1", "0123456789abcdef");
        var parsed = LockOwner.Parse(owner.ToFileText().Split('\n'));
        Assert.Equal(new LockOwner("ci-42-abc", "web-1", "runner evil", 9, "https://ci/job/42", owner.Since, owner.Since, "0123456789abcdef"), parsed);
        Assert.Equal("ci-42-abc/web-1", parsed!.Key);
        var line = run.LogLine(DateTimeOffset.UnixEpoch, "deploy", "20260101T000000Z-00000001", null, "sha", "failed", "boom\nbang");
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("1970-01-01T00:00:00Z\tdeploy\trelease=20260101T000000Z-00000001\tfrom=-\tcommit=sha\toutcome=failed", line);
        Assert.False(LockOwner.IsValidRunId("a b"));
        Assert.False(LockOwner.IsValidRunId("-x"));
    }
}

[UnsupportedOSPlatform("windows")]
public sealed class ReleaseCommitTests
{
    [Fact]
    public async Task The_commit_is_CI_COMMIT_SHA_else_git_HEAD()
    {
        var processes = new Build.Processes.ProcessRunner(new Build.Output.Redactor([]));
        var repo = Directory.CreateTempSubdirectory("release-git-").FullName;
        try
        {
            Assert.Equal("feedbeef", await ReleaseCandidate.ResolveCommitAsync(processes, repo, v => v == "CI_COMMIT_SHA" ? "feedbeef" : null, CancellationToken.None));
            Assert.Null(await ReleaseCandidate.ResolveCommitAsync(processes, repo, _ => null, CancellationToken.None));

            foreach (var args in new[] { new[] { "init", "-q" }, ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"] })
                Assert.True((await processes.RunAsync(new Build.Processes.ProcessSpec("git", args) { WorkingDirectory = repo }, CancellationToken.None)).Succeeded);
            var head = (await processes.RunAsync(new Build.Processes.ProcessSpec("git", ["rev-parse", "HEAD"]) { WorkingDirectory = repo }, CancellationToken.None)).Output.Trim();
            Assert.Equal(40, head.Length);
            Assert.Equal(head, await ReleaseCandidate.ResolveCommitAsync(processes, repo, _ => null, CancellationToken.None));
        }
        finally
        {
            Directory.Delete(repo, recursive: true);
        }
    }
}
