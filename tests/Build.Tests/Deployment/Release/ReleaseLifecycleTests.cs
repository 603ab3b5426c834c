using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Release;
using Build.Deployment.Reports;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests.Deployment.Release;

[UnsupportedOSPlatform("windows")]
public sealed class ReleaseLifecycleTests
{
    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Rollback_restores_the_previous_release_skips_bad_ones_and_takes_an_explicit_id(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        var snapshots = new List<(string Id, SortedDictionary<string, (byte[], UnixFileMode)> Tree)>();
        foreach (var version in new[] { "one", "two", "three" })
        {
            kit.Write("index.html", version);
            kit.Write($"{version}.html", version);
            var result = await kit.DeployAsync();
            snapshots.Add((result.Id(), ReleaseTestKit.Tree(kit.Site)));
        }
        var session = kit.Session();

        var back = await session.RollbackAsync(null, CancellationToken.None);
        Assert.Equal((snapshots[2].Id, snapshots[1].Id, true), (back.From, back.To, back.Changed));
        Assert.Equal(snapshots[1].Id, kit.CurrentId());
        Assert.Equal(snapshots[1].Tree, ReleaseTestKit.ReleaseTree(kit.Current), new TreeComparer());
        Assert.True(File.Exists(Path.Join(kit.Root, ".deploy", "bad", snapshots[2].Id)));

        // The next rollback goes further back; the bad release is skipped as a target and is marked too.
        var again = await session.RollbackAsync(null, CancellationToken.None);
        Assert.Equal((snapshots[1].Id, snapshots[0].Id), (again.From, again.To));
        Assert.Equal(snapshots[0].Tree, ReleaseTestKit.ReleaseTree(kit.Current), new TreeComparer());

        var state = await session.InspectAsync(false, CancellationToken.None);
        Assert.Null(state.RollbackTarget);
        var none = await Assert.ThrowsAsync<ReleaseException>(() => session.RollbackAsync(null, CancellationToken.None));
        Assert.Equal(ReleaseFailure.NoRollbackTarget, none.Kind);

        // An explicit id goes anywhere, even to a release marked bad (which loses its mark).
        var explicitly = await session.RollbackAsync(ReleaseId.Parse(snapshots[2].Id), CancellationToken.None);
        Assert.Equal(snapshots[2].Id, explicitly.To);
        Assert.Equal(snapshots[2].Tree, ReleaseTestKit.ReleaseTree(kit.Current), new TreeComparer());
        Assert.False(File.Exists(Path.Join(kit.Root, ".deploy", "bad", snapshots[2].Id)));

        var missing = await Assert.ThrowsAsync<ReleaseException>(() => session.RollbackAsync(ReleaseId.Parse("20200101T000000Z-deadbeef"), CancellationToken.None));
        Assert.Equal(ReleaseFailure.MissingRelease, missing.Kind);
        Assert.Equal(snapshots[2].Id, kit.CurrentId());
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));

        var log = File.ReadAllLines(Path.Join(kit.Root, ".deploy", "log"));
        Assert.Contains(log, l => l.Contains("\trollback\t", StringComparison.Ordinal) && l.Contains($"release={snapshots[1].Id}", StringComparison.Ordinal) && l.Contains($"from={snapshots[2].Id}", StringComparison.Ordinal));

        // The listing a Releases task prints comes from the same state.
        var listing = await session.InspectAsync(false, CancellationToken.None);
        Assert.Equal(snapshots.Select(s => s.Id), listing.Releases);
        Assert.Equal(snapshots[2].Id, listing.CurrentReleaseId);
        // Every release left by a rollback is marked, also the one left by the explicit "forward" rollback.
        Assert.Equal([snapshots[0].Id, snapshots[1].Id], listing.Bad.Order(StringComparer.Ordinal));
        Assert.Null(listing.RollbackTarget);
        Assert.Equal("abc123", listing.Meta[snapshots[0].Id].Commit);
        Assert.False(listing.Locked);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Pruning_keeps_the_newest_and_never_the_rollback_target(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor) ;
        kit.Options = kit.Options with { KeepReleases = 2 };
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            kit.Write("index.html", $"version {i}");
            ids.Add((await kit.DeployAsync()).Id());
        }
        Assert.Equal(ids[2..], kit.ReleaseNames());
        Assert.False(File.Exists(Path.Join(kit.Root, ".deploy", "manifests", ids[0] + ".json")));

        // Roll back twice: current is ids[2], ids[3] is bad, so no target. Then a new deploy: the kept set is
        // the two newest (new, ids[3]) plus current's rollback target ids[2] — which a plain "keep 2" would delete.
        var session = kit.Session();
        await session.RollbackAsync(null, CancellationToken.None);
        Assert.Equal(ids[2], kit.CurrentId());
        kit.Write("index.html", "version 4");
        var next = await kit.DeployAsync();
        Assert.Equal([ids[2], ids[3], next.Id()], kit.ReleaseNames());
        Assert.Equal(ids[2], (await session.InspectAsync(false, CancellationToken.None)).RollbackTarget);
    }

    private const string R1 = "20260101T000000Z-00000001", R2 = "20260102T000000Z-00000002", R3 = "20260103T000000Z-00000003", R4 = "20260104T000000Z-00000004";

    private static string Log(string op, string release, string from, string outcome) =>
        $"@log 2026-01-0{release[7]}T00:00:00Z\t{op}\trelease={release}\tfrom={from}\tcommit=-\toutcome={outcome}\twho=a@b\tpipeline=-\trun=r";

    [Fact]
    public void The_rollback_target_is_the_release_current_before_as_the_log_says_with_a_fallback_that_says_why()
    {
        // R3 is current; it was deployed over R1 (R2 was staged elsewhere, switched back, never current here).
        var lines = new List<string>
        {
            Log("deploy", R1, "-", "deployed"), Log("deploy", R2, R1, "deployed"), Log("switch-back", R1, R2, "switched-back"),
            Log("deploy", R3, R1, "deployed"), Log("deploy", R3, R3, "unchanged"),
        };
        RemoteState State(string bad = "", IEnumerable<string>? log = null, string[]? releases = null) => RemoteState.Parse(string.Join('\n',
            new[] { "@lock taken", $"@current-link releases/{R3}", $"@current {R3}" }
                .Concat((releases ?? [R1, R2, R3, R4]).Select(r => $"@release {r}"))
                .Concat(bad.Length > 0 ? [$"@bad {bad}"] : [])
                .Concat(log ?? lines)
                .Append("@end")));

        var state = State();
        Assert.Equal(R1, state.RollbackTarget); // the old rule said R2, the newest older release
        Assert.Null(state.RollbackTargetNote);

        var bad = State(bad: R1);
        Assert.Equal(R2, bad.RollbackTarget);
        Assert.Contains($"{R1}, current before {R3}, is marked bad", bad.RollbackTargetNote);

        var pruned = State(releases: [R2, R3, R4]);
        Assert.Equal(R2, pruned.RollbackTarget);
        Assert.Contains("was pruned", pruned.RollbackTargetNote);

        var noLog = State(log: []);
        Assert.Equal(R2, noLog.RollbackTarget);
        Assert.Contains("does not say", noLog.RollbackTargetNote);

        // A rollback makes its target current: from then on the log names the release rolled back from (marked bad).
        var rolled = RemoteState.Parse($"@current-link releases/{R1}\n@current {R1}\n@release {R1}\n@release {R3}\n@bad {R3}\n{Log("rollback", R1, R3, "rolled-back")}\n@end");
        Assert.Null(rolled.RollbackTarget);
        // Pruning spares the log's target while current stays: R1 here, not the newest older R2.
        Assert.DoesNotContain(R1, state.PruneList(R3, 1));
    }

    [Fact]
    public void Prune_list_spares_current_and_rollback_target()
    {
        var state = new RemoteState
        {
            Releases = ["20260101T000000Z-00000001", "20260102T000000Z-00000002", "20260103T000000Z-00000003", "20260104T000000Z-00000004"],
            Bad = new HashSet<string> { "20260102T000000Z-00000002" },
            CurrentReleaseId = "20260103T000000Z-00000003",
        };
        Assert.Equal("20260101T000000Z-00000001", state.RollbackTarget);
        // Current will be the new 05: the two newest are 05 and 04 (also its rollback target); 03, current before
        // the switch, is spared too; 02 (bad) and 01 go.
        Assert.Equal(["20260101T000000Z-00000001", "20260102T000000Z-00000002"],
            state.PruneList("20260105T000000Z-00000005", 2, ["20260105T000000Z-00000005"], "20260103T000000Z-00000003"));
        Assert.Equal(["20260101T000000Z-00000001", "20260102T000000Z-00000002", "20260103T000000Z-00000003"],
            state.PruneList("20260105T000000Z-00000005", 2, ["20260105T000000Z-00000005"]));
        // Unchanged server: current 03, target 01, newest 04: only the bad 02 goes.
        Assert.Equal(["20260102T000000Z-00000002"], state.PruneList("20260103T000000Z-00000003", 1));
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_cut_stream_leaves_current_alone_and_the_retry_starts_afresh(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(30, 20_000);
        var first = await kit.DeployAsync();
        var before = ReleaseTestKit.Tree(kit.Current);

        kit.Generate(30, 20_000, seed: 2);
        var candidate = await kit.CandidateAsync();
        kit.Shell.CutAfterBytes = 200_000;
        // The client dies with its connection (no clean-up reaches the server), as a killed CI job does.
        kit.ReconnectsAfterCut = false;
        var cut = await kit.TryDeployAsync(candidate);
        Assert.Equal(ServerStage.Failed, cut.Stage);
        Assert.Contains("connection cut", cut.Report.Error);

        // The connection died mid-stream: current is untouched, only a .partial and our lock remain.
        Assert.Equal(first.Id(), kit.CurrentId());
        Assert.Equal(before, ReleaseTestKit.Tree(kit.Current), new TreeComparer());
        // Staging only: the .partial, and the .deploy of the parts' markers if a part had finished before the cut.
        var staging = kit.ReleaseNames().Where(n => n != first.Id()).ToList();
        Assert.Contains($".{candidate.ReleaseId}.partial", staging);
        Assert.All(staging, n => Assert.Contains(n, new[] { $".{candidate.ReleaseId}.partial", $".{candidate.ReleaseId}.deploy" }));
        Assert.True(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
        Assert.False(File.Exists(Path.Join(kit.Root, ".deploy", "manifests", candidate.ReleaseId + ".json")));

        // A new connection, same run: re-takes its lock, removes the stale staging directory, deploys.
        kit.ReconnectsAfterCut = true;
        var retry = await kit.DeployAsync(candidate);
        Assert.Equal(Outcome.Deployed, retry.Report.Outcome);
        Assert.Equal(staging.Count, retry.Remote!.StaleStagingRemoved);
        Assert.Equal([first.Id(), candidate.ReleaseId], kit.ReleaseNames());
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Cancelling_mid_upload_leaves_current_alone_and_cleans_up(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Options = kit.Options with { Compress = false };
        kit.Generate(30, 20_000);
        var first = await kit.DeployAsync();
        kit.Generate(30, 20_000, seed: 3);
        var candidate = await kit.CandidateAsync();

        kit.Shell.StallAfterBytes = 100_000; // each of the three parts holds about 200 KB
        using var cancel = new CancellationTokenSource();
        var deploy = kit.TryDeployAsync(candidate, cancellationToken: cancel.Token);
        await kit.Shell.Stalled.Task.WaitAsync(TimeSpan.FromSeconds(60));
        // The stream is held; what the server had read of it reaches the disk a moment later.
        await Support.Poll.UntilAsync(() => Directory.Exists(kit.ReleaseDir($".{candidate.ReleaseId}.partial")), TimeSpan.FromSeconds(30), "the upload to start");
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => deploy);

        Assert.Equal(first.Id(), kit.CurrentId());
        Assert.Equal([first.Id()], kit.ReleaseNames());
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
        Assert.Contains("outcome=failed", File.ReadAllLines(Path.Join(kit.Root, ".deploy", "log"))[^1]);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Staged_releases_wait_for_the_switch_and_an_abort_removes_them(ShellFlavor flavor)
    {
        // --switch=together: every server uploads first; here one server's upload completes and then the run gives up.
        using var kit = new ReleaseTestKit(flavor);
        kit.Write("index.html", "one");
        var first = await kit.DeployAsync();
        kit.Write("index.html", "two");
        var candidate = await kit.CandidateAsync();
        var session = kit.Session();
        var state = await session.PrepareAsync(true, CancellationToken.None);
        var upload = await session.UploadAsync(candidate, ReleaseSession.Plan(candidate, state), StreamCompressions.Choose(true, state), CancellationToken.None);
        Assert.Equal(1, upload.FilesSent);
        Assert.Equal([first.Id(), candidate.ReleaseId], kit.ReleaseNames());
        Assert.Equal(first.Id(), kit.CurrentId());

        // The result of that upload was lost (cut after the rename): the retry of the same run re-stages it.
        var retry = kit.Session();
        var again = await retry.PrepareAsync(true, CancellationToken.None);
        Assert.Equal(LockAcquisition.Retaken, again.Lock);
        await retry.UploadAsync(candidate, ReleaseSession.Plan(candidate, again), StreamCompression.None, CancellationToken.None);
        Assert.Equal([first.Id(), candidate.ReleaseId], kit.ReleaseNames());

        await retry.AbortAsync(ReleaseId.Parse(candidate.ReleaseId), "another server failed", CancellationToken.None);
        Assert.Equal([first.Id()], kit.ReleaseNames());
        Assert.Equal(first.Id(), kit.CurrentId());
        Assert.False(File.Exists(Path.Join(kit.Root, ".deploy", "manifests", candidate.ReleaseId + ".json")));
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
        Assert.Contains("error=another server failed", File.ReadAllLines(Path.Join(kit.Root, ".deploy", "log"))[^1]);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_stale_partial_from_a_crash_is_removed_by_the_next_deploy(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Write("index.html", "one");
        await kit.DeployAsync();
        var crashed = Path.Join(kit.Root, "releases", ".20200101T000000Z-0badf00d.partial");
        Directory.CreateDirectory(Path.Join(crashed, "sub"));
        File.WriteAllText(Path.Join(crashed, "sub", "half.html"), "half");

        Assert.Single((await kit.Session().InspectAsync(false, CancellationToken.None)).Partials);
        kit.Write("index.html", "two");
        var second = await kit.DeployAsync();
        Assert.Equal(1, second.Remote!.StaleStagingRemoved);
        Assert.False(Directory.Exists(crashed));
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_plain_current_directory_is_refused_and_left_untouched(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        Directory.CreateDirectory(kit.Current);
        File.WriteAllText(Path.Join(kit.Current, "index.html"), "hand-made site");
        kit.Write("index.html", "new");

        var error = (await kit.TryDeployAsync()).Report;
        Assert.Equal(Outcome.Failed, error.Outcome);
        Assert.Equal(ReleaseFailure.CurrentNotSymlink, error.FailureKind);
        Assert.Contains("mv ", error.Error);
        Assert.Equal("hand-made site", File.ReadAllText(Path.Join(kit.Current, "index.html")));
        Assert.Equal(["current"], Directory.GetFileSystemEntries(kit.Root).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_root_the_user_cannot_write_is_a_clear_error_and_nothing_changes(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor, runAsUid: Environment.IsPrivilegedProcess ? 65534 : null);
        Directory.CreateDirectory(kit.Root);
        File.SetUnixFileMode(kit.Root, (UnixFileMode)0b101_101_101);
        kit.Write("index.html", "x");

        var error = (await kit.TryDeployAsync(attempts: 3)).Report;
        Assert.Equal(ReleaseFailure.NotWritable, error.FailureKind);
        Assert.Contains(kit.Root, error.Error);
        Assert.DoesNotContain(kit.Progress.Lines, l => l.Contains(": retry", StringComparison.Ordinal)); // not transient
        Assert.Empty(Directory.GetFileSystemEntries(kit.Root));

        // A root that does not exist under an unwritable parent: same.
        var deeper = new ReleaseSession(kit.Shell, RemoteRoot.Of(kit.Root + "/sub/www"), kit.Run, kit.Options, kit.Time);
        var error2 = await Assert.ThrowsAsync<ReleaseException>(() => deeper.PrepareAsync(true, CancellationToken.None));
        Assert.Equal(ReleaseFailure.NotWritable, error2.Kind);
        Assert.Empty(Directory.GetFileSystemEntries(kit.Root));
    }

    [Theory]
    [InlineData(ShellFlavor.Minimal, false)]
    [InlineData(ShellFlavor.Gnu, true)]
    [InlineData(ShellFlavor.BusyBox, true)]
    [InlineData(ShellFlavor.Gnu, false)]
    [InlineData(ShellFlavor.BusyBox, false)]
    public async Task Works_with_only_the_assumed_tools_and_with_gzip(ShellFlavor flavor, bool compress)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Options = kit.Options with { Compress = compress };
        for (var i = 0; i < 20; i++)
            kit.Write($"posts/{i}.html", string.Concat(Enumerable.Repeat($"<p>post {i}: some words of a blog post</p>\n", 100)));
        var first = await kit.DeployAsync();
        kit.Write("index.html", "changed");
        var second = await kit.DeployAsync();
        Assert.Equal(flavor != ShellFlavor.Minimal, second.Upload!.StreamHashVerified);
        Assert.Equal(1, second.Upload.FilesSent);
        Assert.Equal(20, second.Upload.FilesLinked);
        if (compress)
            Assert.True(first.Upload!.BytesSent < first.Upload.ContentBytesSent / 2, $"{first.Upload.BytesSent} bytes for {first.Upload.ContentBytesSent}");
        else
            Assert.True(first.Upload!.BytesSent > first.Upload.ContentBytesSent, "an uncompressed tar is larger than its content");
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_watcher_never_sees_a_missing_or_partial_release(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(30, 2000);
        kit.Write("index.html", "v0");
        await kit.DeployAsync();

        using var stop = new CancellationTokenSource();
        var seen = new HashSet<string>();
        var resolutions = 0;
        var watcher = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var target = new FileInfo(kit.Current).LinkTarget;
                Assert.NotNull(target);
                Assert.DoesNotContain("partial", target);
                // Resolve through the link, as the web server does.
                var index = File.ReadAllText(Path.Join(kit.Current, "index.html"));
                Assert.StartsWith("v", index);
                Assert.True(File.Exists(Path.Join(kit.Current, "2025/01/post-0/index.html")));
                seen.Add(target);
                resolutions++;
            }
        });

        for (var i = 1; i <= 4; i++)
        {
            kit.Write("index.html", $"v{i}");
            await kit.DeployAsync();
        }
        await kit.Session().RollbackAsync(null, CancellationToken.None);
        kit.Generate(30, 2000, seed: 9);
        var candidate = await kit.CandidateAsync();
        kit.Shell.CutAfterBytes = 20_000;
        Assert.Equal(ServerStage.Failed, (await kit.TryDeployAsync(candidate)).Stage);
        await kit.DeployAsync(candidate);

        stop.Cancel();
        await watcher;
        Assert.True(resolutions > 10, $"only {resolutions} resolutions");
        Assert.True(seen.Count >= 2, $"saw only {string.Join(", ", seen)}");
    }

    private sealed class TreeComparer : IEqualityComparer<SortedDictionary<string, (byte[] Content, UnixFileMode Mode)>>
    {
        public bool Equals(SortedDictionary<string, (byte[] Content, UnixFileMode Mode)>? x, SortedDictionary<string, (byte[] Content, UnixFileMode Mode)>? y) =>
            x is not null && y is not null && x.Keys.SequenceEqual(y.Keys)
            && x.All(p => p.Value.Mode == y[p.Key].Mode && p.Value.Content.AsSpan().SequenceEqual(y[p.Key].Content));

        public int GetHashCode(SortedDictionary<string, (byte[] Content, UnixFileMode Mode)> obj) => obj.Count;
    }
}
