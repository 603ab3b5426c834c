using System.Diagnostics;
using System.Runtime.Versioning;
using Build.Deployment.Release;
using Build.Deployment.Reports;

namespace Build.Tests.Deployment.Release;

[UnsupportedOSPlatform("windows")]
public sealed class ReleaseLockTests
{
    private static readonly ReleaseRun Other = new("run-other-2", "otherhost", 777, "someone", "https://ci.example/job/2", null);

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task The_same_run_retakes_its_lock_another_run_waits_then_fails_naming_the_owner(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        var mine = new ReleaseSession(kit.Shell, kit.RemoteRoot, kit.Run, kit.Options, TimeProvider.System);
        Assert.Equal(LockAcquisition.Taken, (await mine.PrepareAsync(true, CancellationToken.None)).Lock);
        Assert.Equal(LockAcquisition.Retaken, (await mine.PrepareAsync(true, CancellationToken.None)).Lock);

        using var otherShell = new LocalShell(flavor);
        var wait = TimeSpan.FromMilliseconds(400);
        var theirs = new ReleaseSession(otherShell, kit.RemoteRoot, Other, kit.Options with { LockWait = wait, LockPoll = TimeSpan.FromMilliseconds(50) }, TimeProvider.System);
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<ReleaseException>(() => theirs.PrepareAsync(true, CancellationToken.None));
        Assert.True(clock.Elapsed >= wait, $"gave up after {clock.Elapsed}");
        Assert.True(otherShell.Calls >= 2, "polled the lock");
        Assert.Equal(ReleaseFailure.LockHeld, error.Kind);
        Assert.Contains("run-test-1", error.Message);
        Assert.Contains("testhost", error.Message);
        Assert.Contains("https://ci.example/job/1", error.Message);
        Assert.Contains("Unlock", error.Message);

        // The listing shows the owner without touching the lock.
        var look = await theirs.InspectAsync(false, CancellationToken.None);
        Assert.True(look.Locked);
        Assert.Equal(kit.Run.RunId, look.LockOwner!.RunId);
        Assert.Equal(4242, look.LockOwner.Pid);

        // Unlock prints (returns) the owner and removes the lock; the first run then finds it lost.
        var (wasLocked, owner) = await theirs.UnlockAsync(CancellationToken.None);
        Assert.True(wasLocked);
        Assert.Equal(kit.Run.RunId, owner!.RunId);
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
        var candidate = await kit.CandidateAsync();
        var lost = await Assert.ThrowsAsync<ReleaseException>(() => mine.FinishAsync(candidate, look, "unchanged", CancellationToken.None));
        Assert.Equal(ReleaseFailure.LockLost, lost.Kind);
        Assert.False((await theirs.UnlockAsync(CancellationToken.None)).WasLocked);
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

    [Fact]
    public async Task A_lock_older_than_the_timeout_is_broken_and_reported()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        using var otherShell = new LocalShell(ShellFlavor.Gnu);
        var crashed = new ReleaseSession(otherShell, kit.RemoteRoot, Other, kit.Options, kit.Time);
        await crashed.PrepareAsync(true, CancellationToken.None);

        // Younger than the timeout: it is waited for (FakeTimeProvider: the wait elapses only as the test advances it).
        kit.Options = kit.Options with { LockTimeout = TimeSpan.FromMinutes(10), LockWait = TimeSpan.FromSeconds(3), LockPoll = TimeSpan.FromSeconds(1) };
        var waiting = kit.Session().PrepareAsync(true, CancellationToken.None);
        while (!waiting.IsCompleted)
        {
            // Move fake time on whenever no poll is in flight. (Advancing once per finished poll could
            // come before the session registered its delay, and then nothing would ever advance it.)
            if (kit.Shell.Completed == kit.Shell.Calls) kit.Time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(waiting, Task.Delay(10));
        }
        Assert.True(kit.Shell.Calls >= 2, "polled before giving up");
        var held = await Assert.ThrowsAsync<ReleaseException>(() => waiting);
        Assert.Equal(ReleaseFailure.LockHeld, held.Kind);

        kit.Time.Advance(TimeSpan.FromMinutes(11));
        var state = await kit.Session().PrepareAsync(true, CancellationToken.None);
        Assert.Equal(LockAcquisition.Taken, state.Lock);
        Assert.Equal(Other.RunId, state.BrokenStaleLock!.RunId);
        Assert.Equal("otherhost", state.BrokenStaleLock.Host);
        Assert.Equal(kit.Run.RunId, (await kit.Session().InspectAsync(false, CancellationToken.None)).LockOwner!.RunId);
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
