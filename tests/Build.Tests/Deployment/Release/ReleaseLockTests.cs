using System.Diagnostics;
using System.Runtime.Versioning;
using Build.Deployment.Release;
using Build.Deployment.Reports;

namespace Build.Tests.Deployment.Release;

/// <summary>The lock's rules on a local "server" under GNU and BusyBox tools (the scripts as they run over SSH).</summary>
[UnsupportedOSPlatform("windows")]
public sealed class ReleaseLockTests
{
    private static readonly ReleaseRun Other = new("run-other-2", "otherhost", 777, "someone", "https://ci.example/job/2", null);

    private static string OwnerFile(ReleaseTestKit kit) => Path.Join(kit.Root, ".deploy", "lock", "owner");

    /// <summary>Ages the lock's heartbeat by the server's measure: its owner file's modification time.</summary>
    /// <summary>Ages every heartbeat the server counts: the owner file and the markers a stream's end leaves.</summary>
    private static void AgeHeartbeat(ReleaseTestKit kit, TimeSpan age)
    {
        foreach (var file in Directory.GetFiles(Path.Join(kit.Root, ".deploy", "lock"), "alive.*").Append(OwnerFile(kit)))
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow - age);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task The_same_run_and_target_retake_their_lock_another_run_waits_then_fails_naming_the_live_owner(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        var mine = new ReleaseSession(kit.Shell, kit.RemoteRoot, kit.Run, kit.Options, TimeProvider.System, "web1");
        Assert.Equal(LockAcquisition.Taken, (await mine.PrepareAsync(true, CancellationToken.None)).Lock);
        Assert.Equal(LockAcquisition.Retaken, (await mine.PrepareAsync(true, CancellationToken.None)).Lock);

        using var otherShell = new LocalShell(flavor);
        // Long enough for a second poll even when starting a shell is slow on a loaded machine.
        var wait = TimeSpan.FromSeconds(2);
        var theirs = new ReleaseSession(otherShell, kit.RemoteRoot, Other, kit.Options with { LockWait = wait, LockPoll = TimeSpan.FromMilliseconds(50) }, TimeProvider.System, "web1");
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ReleaseException>(() => theirs.PrepareAsync(true, CancellationToken.None));
        Assert.True(clock.Elapsed >= wait, $"gave up after {clock.Elapsed}");
        Assert.True(otherShell.Calls >= 2, "polled the lock");
        Assert.Equal(ReleaseFailure.LockHeld, error.Kind);
        Assert.Matches(@"locked by run run-test-1, target web1, host testhost, pid 4242, job https://ci\.example/job/1, since [0-9: -]+Z, alive \(heartbeat [0-9] s ago\)", error.Message);
        Assert.Contains("--force-unlock", error.Message);

        // The listing shows the owner and the heartbeat's age without touching the lock.
        var look = await theirs.InspectAsync(false, CancellationToken.None);
        Assert.True(look.Locked);
        Assert.Equal(kit.Run.RunId, look.LockOwner!.RunId);
        Assert.Equal("web1", look.LockOwner.Target);
        Assert.Equal(4242, look.LockOwner.Pid);
        Assert.NotNull(look.LockOwner.Heartbeat);
        Assert.InRange(look.LockAge!.Value, TimeSpan.Zero, TimeSpan.FromSeconds(30));

        // Unlock refuses a live lock and says why; --force-unlock removes it; the first run then finds it lost.
        var alive = await Assert.ThrowsAsync<ReleaseException>(() => theirs.UnlockAsync(force: false, CancellationToken.None));
        Assert.Contains("alive (heartbeat", alive.Message);
        Assert.Contains("still running", alive.Message);
        Assert.Contains("--force-unlock", alive.Message);
        Assert.True(File.Exists(OwnerFile(kit)));
        var (wasLocked, owner, age) = await theirs.UnlockAsync(force: true, CancellationToken.None);
        Assert.True(wasLocked);
        Assert.Equal(kit.Run.RunId, owner!.RunId);
        Assert.NotNull(age);
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
        var candidate = await kit.CandidateAsync();
        var lost = await Assert.ThrowsAsync<ReleaseException>(() => mine.FinishAsync(candidate, look, "unchanged", CancellationToken.None));
        Assert.Equal(ReleaseFailure.LockLost, lost.Kind);
        Assert.False((await theirs.UnlockAsync(force: false, CancellationToken.None)).WasLocked);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Unlock_removes_an_abandoned_lock_without_force(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        using var otherShell = new LocalShell(flavor);
        await new ReleaseSession(otherShell, kit.RemoteRoot, Other, kit.Options, kit.Time).PrepareAsync(false, CancellationToken.None);
        AgeHeartbeat(kit, TimeSpan.FromMinutes(3));
        var (wasLocked, owner, age) = await kit.Session().UnlockAsync(force: false, CancellationToken.None);
        Assert.True(wasLocked);
        Assert.Equal(Other.RunId, owner!.RunId);
        Assert.InRange(age!.Value, TimeSpan.FromSeconds(170), TimeSpan.FromSeconds(300));
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Two_deploys_at_once_are_serialised_by_the_lock(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Write("index.html", "first");
        var a = await kit.CandidateAsync();
        var otherSite = Path.Join(kit.Root, "..", "other-site");
        Directory.CreateDirectory(otherSite);
        File.WriteAllText(Path.Join(otherSite, "index.html"), "second");
        kit.Time.Advance(TimeSpan.FromMinutes(1));
        var b = await ReleaseCandidate.CreateAsync(otherSite, "def456", kit.Time, CancellationToken.None);

        using var otherShell = new LocalShell(flavor);
        var options = kit.Options with { LockWait = TimeSpan.FromSeconds(30), LockPoll = TimeSpan.FromMilliseconds(20) };
        var results = await Task.WhenAll(
            kit.DeployAsync(a, kit.Run, kit.Shell, options, TimeProvider.System),
            kit.DeployAsync(b, Other, otherShell, options, TimeProvider.System));

        Assert.All(results, r => Assert.Equal(Outcome.Deployed, r.Report.Outcome));
        // Whoever went second linked nothing from a half-made release: it saw the first one complete and current.
        var later = results.Single(r => r.Report.PreviousReleaseId is not null);
        Assert.Equal(results.Single(r => r.Report.PreviousReleaseId is null).Id(), later.Report.PreviousReleaseId);
        Assert.Equal(later.Id(), kit.CurrentId());
        Assert.Equal(2, File.ReadAllLines(Path.Join(kit.Root, ".deploy", "log")).Count(l => l.Contains("outcome=deployed", StringComparison.Ordinal)));
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_killed_runs_lock_is_taken_over_once_its_heartbeat_is_older_than_the_timeout_and_only_the_winner_cleans_its_staging(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        using var otherShell = new LocalShell(flavor);
        await new ReleaseSession(otherShell, kit.RemoteRoot, Other, kit.Options, kit.Time).PrepareAsync(true, CancellationToken.None);
        var staging = Path.Join(kit.Root, "releases", ".20260101T000000Z-0000abcd.partial");
        Directory.CreateDirectory(staging);
        kit.Options = kit.Options with { LockTimeout = TimeSpan.FromSeconds(60), LockWait = TimeSpan.Zero };

        // Younger than the timeout: alive, left alone, and its staging too.
        AgeHeartbeat(kit, TimeSpan.FromSeconds(50));
        var held = await Assert.ThrowsAsync<ReleaseException>(() => kit.Session().PrepareAsync(true, CancellationToken.None));
        Assert.Equal(ReleaseFailure.LockHeld, held.Kind);
        Assert.Matches(@"alive \(heartbeat 5[0-9] s ago\)", held.Message);
        Assert.True(Directory.Exists(staging));

        AgeHeartbeat(kit, TimeSpan.FromSeconds(75));
        var state = await kit.Session().PrepareAsync(true, CancellationToken.None);
        Assert.Equal(LockAcquisition.TookOver, state.Lock);
        Assert.Equal(Other.RunId, state.BrokenStaleLock!.RunId);
        Assert.Equal("otherhost", state.BrokenStaleLock.Host);
        Assert.InRange(state.BrokenLockAge!.Value, TimeSpan.FromSeconds(74), TimeSpan.FromSeconds(120));
        Assert.Equal(1, state.StaleStagingRemoved);
        Assert.False(Directory.Exists(staging));
        var look = await kit.Session().InspectAsync(false, CancellationToken.None);
        Assert.Equal(kit.Run.RunId, look.LockOwner!.RunId);
        Assert.InRange(look.LockAge!.Value, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        // One marker: this holding's; the one renamed by the takeover is gone.
        Assert.Equal([$"held.{look.LockOwner.Instance}", "owner"],
            Directory.GetFiles(Path.Join(kit.Root, ".deploy", "lock")).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray());
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Of_many_waiters_taking_over_one_abandoned_lock_at_once_exactly_one_wins(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        using var crashedShell = new LocalShell(flavor);
        var shells = Enumerable.Range(0, 6).Select(_ => new LocalShell(flavor)).ToList();
        try
        {
            var options = kit.Options with { LockTimeout = TimeSpan.FromSeconds(30), LockWait = TimeSpan.Zero };
            for (var round = 0; round < 5; round++)
            {
                await new ReleaseSession(crashedShell, kit.RemoteRoot, Other, options, kit.Time).PrepareAsync(false, CancellationToken.None);
                Directory.CreateDirectory(Path.Join(kit.Root, "releases", ".20260101T000000Z-0000abcd.partial"));
                AgeHeartbeat(kit, TimeSpan.FromMinutes(5));
                var runs = shells.Select((shell, i) => new ReleaseSession(shell, kit.RemoteRoot, kit.Run with { RunId = $"run-waiter-{round}-{i}" }, options, kit.Time)).ToList();
                var attempts = runs.Select(async r =>
                {
                    try
                    {
                        return (await r.PrepareAsync(false, CancellationToken.None)).Lock;
                    }
                    catch (ReleaseException e) when (e.Kind == ReleaseFailure.LockHeld)
                    {
                        return LockAcquisition.None;
                    }
                }).ToList();
                var outcomes = await Task.WhenAll(attempts);
                Assert.Equal(1, outcomes.Count(o => o == LockAcquisition.TookOver));
                Assert.Equal(5, outcomes.Count(o => o == LockAcquisition.None));
                var winner = runs[Array.IndexOf(outcomes, LockAcquisition.TookOver)];
                var look = await kit.Session().InspectAsync(false, CancellationToken.None);
                Assert.Equal($"run-waiter-{round}-{Array.IndexOf(outcomes, LockAcquisition.TookOver)}", look.LockOwner!.RunId);
                await winner.AbortAsync(null, "test", CancellationToken.None);
                Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
            }
        }
        finally
        {
            foreach (var shell in shells) shell.Dispose();
        }
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Recorded_times_hours_off_the_servers_clock_do_not_decide_staleness(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        using var otherShell = new LocalShell(flavor);
        kit.Options = kit.Options with { LockTimeout = TimeSpan.FromSeconds(60), LockWait = TimeSpan.Zero };
        // The other client's clock is five hours behind: its recorded start and heartbeat look ancient.
        var skewed = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow - TimeSpan.FromHours(5));
        await new ReleaseSession(otherShell, kit.RemoteRoot, Other, kit.Options, skewed).PrepareAsync(false, CancellationToken.None);
        var held = await Assert.ThrowsAsync<ReleaseException>(() => kit.Session().PrepareAsync(false, CancellationToken.None));
        Assert.Contains("alive (heartbeat", held.Message);

        // Ahead by five hours, and really abandoned (the file is old by the server's clock): taken over.
        var text = File.ReadAllText(OwnerFile(kit));
        var ahead = DateTimeOffset.UtcNow.AddHours(5).ToUnixTimeSeconds();
        File.WriteAllText(OwnerFile(kit), System.Text.RegularExpressions.Regex.Replace(text, "(time|beat)=[0-9]+", m => $"{m.Groups[1].Value}={ahead}"));
        AgeHeartbeat(kit, TimeSpan.FromSeconds(90));
        var state = await kit.Session().PrepareAsync(false, CancellationToken.None);
        Assert.Equal(LockAcquisition.TookOver, state.Lock);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(ahead), state.BrokenStaleLock!.Since);

        // A heartbeat far in the future by the server's clock (its clock was set back) counts as abandoned too.
        await kit.Session().AbortAsync(null, "test", CancellationToken.None);
        await new ReleaseSession(otherShell, kit.RemoteRoot, Other, kit.Options, TimeProvider.System).PrepareAsync(false, CancellationToken.None);
        File.SetLastWriteTimeUtc(OwnerFile(kit), DateTime.UtcNow.AddHours(3));
        Assert.Equal(LockAcquisition.TookOver, (await kit.Session().PrepareAsync(false, CancellationToken.None)).Lock);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Two_targets_of_one_run_on_one_directory_do_not_share_the_lock(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        using var otherShell = new LocalShell(flavor);
        kit.Write("index.html", "x");
        var a = new ReleaseSession(kit.Shell, kit.RemoteRoot, kit.Run, kit.Options, TimeProvider.System, "a");
        var b = new ReleaseSession(otherShell, kit.RemoteRoot, kit.Run, kit.Options with { LockWait = TimeSpan.FromMilliseconds(200) }, TimeProvider.System, "b");
        await a.PrepareDeployAsync(CancellationToken.None);
        Directory.CreateDirectory(Path.Join(kit.Root, "releases", ".20260101T000000Z-0000abcd.partial"));
        var error = await Assert.ThrowsAsync<ReleaseException>(() => b.PrepareAsync(false, CancellationToken.None));
        Assert.Equal(ReleaseFailure.LockHeld, error.Kind);
        Assert.Contains("run run-test-1, target a,", error.Message);
        // b touched nothing of a's.
        Assert.True(Directory.Exists(Path.Join(kit.Root, "releases", ".20260101T000000Z-0000abcd.partial")));
        await a.AbortAsync(null, "test", CancellationToken.None);
        Assert.Equal(LockAcquisition.Taken, (await b.PrepareAsync(false, CancellationToken.None)).Lock);
        Assert.Equal("b", (await a.InspectAsync(false, CancellationToken.None)).LockOwner!.Target);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_reconnect_retakes_the_lock_only_while_current_is_where_the_deploy_found_it(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Write("index.html", "one");
        var first = await kit.DeployAsync();

        // Run A locks and stages; it loses its connection and, meanwhile, run B switches the server.
        kit.Write("index.html", "two");
        // The candidate first: making it moves the kit's fake clock, which would tick A's heartbeat, and a beat in
        // flight when A drops could renew the lock after the test has aged it.
        var candidate = await kit.CandidateAsync();
        var a = kit.Session();
        var found = await a.PrepareDeployAsync(CancellationToken.None);
        await a.UploadAsync(candidate, ReleaseSession.Plan(candidate, found), StreamCompression.Gzip, CancellationToken.None);
        a.Dispose();
        AgeHeartbeat(kit, TimeSpan.FromMinutes(10));
        kit.Write("index.html", "three");
        var b = await kit.DeployAsync(run: Other);
        Assert.Equal(Outcome.Deployed, b.Report.Outcome);

        // A's new session (same run and target) refuses, switches nothing and leaves no lock.
        var reconnected = kit.Session();
        var error = await Assert.ThrowsAsync<ReleaseException>(() => reconnected.RetakeAsync([found.CurrentReleaseId], false, CancellationToken.None));
        Assert.Equal(ReleaseFailure.CurrentChanged, error.Kind);
        Assert.Contains("current changed under this deploy", error.Message);
        Assert.Contains(b.Id(), error.Message);
        Assert.Equal(b.Id(), kit.CurrentId());
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));

        // While current is unchanged, the same re-take goes ahead.
        var state = await kit.Session().RetakeAsync([null, b.Id()], false, CancellationToken.None);
        Assert.Equal(LockAcquisition.Taken, state.Lock);
        Assert.NotEqual(first.Id(), state.CurrentReleaseId);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_lock_held_for_the_health_check_keeps_beating_until_it_is_released(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Write("index.html", "one");
        await kit.DeployAsync();
        kit.Write("index.html", "two");
        await kit.DeployAsync();
        var options = kit.Options with { LockTimeout = TimeSpan.FromSeconds(10) };
        using var holder = new ReleaseSession(kit.Shell, kit.RemoteRoot, kit.Run, options, TimeProvider.System);

        // The rollback keeps the lock for its health check; however long that takes, the lock must look alive.
        var rollback = await holder.RollbackAsync(null, CancellationToken.None, holdLock: true);
        Assert.True(rollback.Changed);
        Assert.True(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
        AgeHeartbeat(kit, TimeSpan.FromMinutes(5));
        var bound = Stopwatch.StartNew();
        while (File.GetLastWriteTimeUtc(OwnerFile(kit)) < DateTime.UtcNow.AddMinutes(-1))
        {
            Assert.True(bound.Elapsed < TimeSpan.FromSeconds(30), "no heartbeat within 30 s while the lock was held for the check");
            await Task.Delay(50);
        }

        await holder.ReleaseLockAsync(CancellationToken.None);
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task The_heartbeat_renews_the_lock_so_a_waiter_never_takes_over_a_live_deploy(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        // 10 s, the shortest timeout: a beat every 2.5 s.
        var options = kit.Options with { LockTimeout = TimeSpan.FromSeconds(10) };
        using var holder = new ReleaseSession(kit.Shell, kit.RemoteRoot, kit.Run, options, TimeProvider.System);
        await holder.PrepareAsync(false, CancellationToken.None);
        // As if the holder had been silent for minutes: only its heartbeat can make the lock look alive again.
        AgeHeartbeat(kit, TimeSpan.FromMinutes(5));
        var bound = Stopwatch.StartNew();
        while (holder.HeartbeatsSent == 0)
        {
            Assert.True(bound.Elapsed < TimeSpan.FromSeconds(30), "no heartbeat within 30 s");
            await Task.Delay(50);
        }
        Assert.True(File.GetLastWriteTimeUtc(OwnerFile(kit)) > DateTime.UtcNow.AddMinutes(-1), "the beat renewed the owner file");
        Assert.Contains("beat=", File.ReadAllText(OwnerFile(kit)));

        using var otherShell = new LocalShell(flavor);
        var waiter = new ReleaseSession(otherShell, kit.RemoteRoot, Other, options with { LockWait = TimeSpan.Zero }, TimeProvider.System);
        var error = await Assert.ThrowsAsync<ReleaseException>(() => waiter.PrepareAsync(false, CancellationToken.None));
        Assert.Contains("alive (heartbeat", error.Message);

        // Unlocking stops the heartbeat first: nothing recreates the lock afterwards.
        await holder.AbortAsync(null, "test", CancellationToken.None);
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Inspecting_changes_nothing_and_takes_no_lock(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        var absent = await kit.Session().InspectAsync(true, CancellationToken.None);
        Assert.False(absent.Exists);
        Assert.False(Directory.Exists(kit.Root));

        kit.Write("index.html", "x");
        var deployed = await kit.DeployAsync();
        var before = Directory.GetFileSystemEntries(kit.Root, "*", SearchOption.AllDirectories).Order().ToArray();
        var state = await kit.Session().InspectAsync(true, CancellationToken.None);
        Assert.Equal(deployed.Id(), state.CurrentReleaseId);
        Assert.NotNull(state.CurrentManifest);
        Assert.False(state.Locked);
        kit.Write("index.html", "y");
        var plan = ReleaseSession.Plan(await kit.CandidateAsync(), state);
        Assert.Single(plan.Send);
        Assert.Equal(before, Directory.GetFileSystemEntries(kit.Root, "*", SearchOption.AllDirectories).Order().ToArray());
    }
}
