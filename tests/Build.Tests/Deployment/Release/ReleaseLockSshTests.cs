using System.Diagnostics;
using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Release;
using Build.Deployment.Reports;
using Build.Settings;
using Build.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Build.Tests.Deployment.Release;

/// <summary>
/// The deploy lock against a real sshd, with a TCP proxy the test controls slowing or cutting one connection:
/// a slow live deploy, a killed run, takeovers at once, a reconnect after another deploy, two targets on one
/// directory, and owner files whose recorded times disagree with the server's clock.
/// </summary>
[UnsupportedOSPlatform("windows")]
public abstract class ReleaseLockSshTests(DeployServers servers, ITestOutputHelper output)
{
    private static readonly TimeSpan ShortestTimeout = TimeSpan.FromSeconds(10);

    private static string OwnerFile(DeployBed bed, string server) => Path.Join(bed.RootOf(server), ".deploy", "lock", "owner");

    private static async Task<DeployReport> DeployAsync(DeployBed bed, FanOut fanOut)
    {
        var report = new DeployReport { Operation = "deploy", StartedAt = DateTimeOffset.UtcNow };
        await fanOut.DeployAsync(bed.CandidateAsync(), report, CancellationToken.None);
        return report;
    }

    /// <summary>A lock left by a run whose process died: the session took it, then its connection went away.</summary>
    private static async Task LeaveLockAsync(DeployBed bed, string runId, TimeProvider? clock = null)
    {
        using var connection = await bed.Connector().ConnectAsync(bed.Targets()[0], CancellationToken.None);
        using var crashed = new ReleaseSession(connection.Shell, Build.Deployment.RemoteRoot.Of(bed.RootOf("server1")), DeployBed.Run(runId), bed.Release, clock ?? TimeProvider.System, "server1");
        await crashed.PrepareAsync(withManifest: false, CancellationToken.None);
    }

    private static async Task WaitForAsync(TaskCompletionSource marker, string what, int seconds = 120)
    {
        try
        {
            await marker.Task.WaitAsync(TimeSpan.FromSeconds(seconds));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"no {what} within {seconds} s");
        }
    }

    [Fact]
    public async Task A_slow_live_deploy_is_never_broken_into_however_long_it_takes()
    {
        await using var bed = new DeployBed(servers, count: 1);
        // About 2.4 MB of incompressible files through 150 kB/s: an upload of ~16 s, longer than the 10 s lock timeout.
        bed.Proxy(0, bytesPerSecond: 150_000);
        bed.Generate(files: 12, bytesPerFile: 200_000, version: "slow");
        bed.Release = bed.Release with { LockTimeout = ShortestTimeout, LockWait = TimeSpan.FromSeconds(120), LockPoll = TimeSpan.FromMilliseconds(500) };
        var uploading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progressA = new RecordingProgress { OnPhase = (_, phase) => { if (phase == Build.Deployment.Progress.DeployPhase.Upload) uploading.TrySetResult(); } };
        var clock = Stopwatch.StartNew();
        var runA = DeployAsync(bed, bed.FanOut(run: DeployBed.Run("run-slow"), progress: progressA));
        await WaitForAsync(uploading, "upload");

        // B polls every half second all along A's upload; A's lock must stay A's.
        var progressB = new RecordingProgress();
        var reportB = await DeployAsync(bed, bed.FanOut(run: DeployBed.Run("run-waiter"), progress: progressB));
        var reportA = await runA;
        output.WriteLine($"A took {Assert.Single(reportA.Servers).Seconds:0.0} s, all done after {clock.Elapsed.TotalSeconds:0.0} s\n{progressA}\n{progressB}");

        Assert.Equal(Outcome.Deployed, Assert.Single(reportA.Servers).Outcome);
        Assert.Equal(Outcome.Unchanged, Assert.Single(reportB.Servers).Outcome);
        Assert.True(reportA.Servers[0].Seconds > ShortestTimeout.TotalSeconds, $"the upload outlasted the lock timeout ({reportA.Servers[0].Seconds:0.0} s)");
        Assert.DoesNotContain(progressB.Lines, l => l.Contains("took over", StringComparison.Ordinal));
        var log = bed.LogLines("server1");
        Assert.Contains(log, l => l.Contains("run=run-slow", StringComparison.Ordinal) && l.Contains("outcome=deployed", StringComparison.Ordinal));
        Assert.DoesNotContain(log, l => l.Contains("outcome=failed", StringComparison.Ordinal));
        bed.AssertCurrentIsSite("server1");
        Assert.False(bed.Locked("server1"));
    }

    [Fact]
    public async Task A_killed_runs_lock_is_taken_over_after_the_lock_timeout_and_its_staging_removed()
    {
        await using var bed = new DeployBed(servers, count: 1);
        var proxy = bed.Proxy(0, bytesPerSecond: 100_000);
        bed.Generate(files: 12, bytesPerFile: 100_000, version: "killed");
        bed.Release = bed.Release with { LockTimeout = ShortestTimeout, LockWait = TimeSpan.FromSeconds(90), LockPoll = TimeSpan.FromMilliseconds(500) };

        // The killed run: locked, half way through its upload, then its connection is reset (the process died).
        var candidate = await bed.CandidateAsync();
        var connection = await bed.Connector().ConnectAsync(bed.Targets()[0], CancellationToken.None);
        var killed = new ReleaseSession(connection.Shell, Build.Deployment.RemoteRoot.Of(bed.RootOf("server1")), DeployBed.Run("run-killed"), bed.Release, TimeProvider.System, "server1");
        var state = await killed.PrepareDeployAsync(CancellationToken.None);
        var upload = killed.UploadAsync(candidate, ReleaseSession.Plan(candidate, state), StreamCompression.None, CancellationToken.None);
        await Poll.UntilAsync(() => Directory.GetDirectories(Path.Join(bed.RootOf("server1"), "releases"), ".*.partial").Length > 0, TimeSpan.FromSeconds(60), "the killed run's staging");
        proxy.CutAll();
        killed.Dispose();
        connection.Dispose();
        await Assert.ThrowsAnyAsync<Exception>(() => upload);
        var killedAt = Stopwatch.StartNew();

        bed.Generate(files: 4, version: "after");
        var progress = new RecordingProgress();
        var report = await DeployAsync(bed, bed.FanOut(run: DeployBed.Run("run-next"), progress: progress));
        output.WriteLine($"taken over after {killedAt.Elapsed.TotalSeconds:0.0} s\n{progress}");

        Assert.Equal(Outcome.Deployed, Assert.Single(report.Servers).Outcome);
        var line = Assert.Single(progress.Lines, l => l.Contains("took over an abandoned lock", StringComparison.Ordinal));
        Assert.Contains("run run-killed, target server1", line);
        Assert.Matches("heartbeat 1[0-9] s old", line);
        // Not before the timeout (the server's clock counts whole seconds), and soon after it.
        Assert.InRange(killedAt.Elapsed, ShortestTimeout - TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        Assert.Empty(Directory.GetDirectories(Path.Join(bed.RootOf("server1"), "releases"), ".*"));
        bed.AssertCurrentIsSite("server1");
        Assert.False(bed.Locked("server1"));
    }

    [Fact]
    public async Task Of_several_runs_taking_over_one_abandoned_lock_at_once_exactly_one_wins()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 4, version: "race");
        for (var round = 0; round < 3; round++)
        {
            bed.Release = bed.Release with { LockTimeout = TimeSpan.FromSeconds(30), LockWait = TimeSpan.Zero };
            await LeaveLockAsync(bed, $"run-crashed-{round}");
            File.SetLastWriteTimeUtc(OwnerFile(bed, "server1"), DateTime.UtcNow.AddMinutes(-5));
            var progress = Enumerable.Range(0, 5).Select(_ => new RecordingProgress()).ToList();
            var runs = progress.Select((p, i) => bed.FanOut(run: DeployBed.Run($"run-{round}-{i}"), attempts: 1, progress: p)).ToList();
            var reports = await Task.WhenAll(runs.Select(r => DeployAsync(bed, r)));
            var lines = reports.Select(r => Assert.Single(r.Servers)).ToList();
            output.WriteLine(string.Join('\n', lines.Select(l => $"{l.Outcome}: {l.Error}")));
            // One takeover, by the run that deployed; the others found the lock alive (the winner's, or that of another
            // run that found it free once the winner was done), or free: never the abandoned run's.
            var takeovers = progress.Select((p, i) => (p, i)).Where(x => x.p.Lines.Any(l => l.Contains("took over an abandoned lock (run run-crashed-", StringComparison.Ordinal))).ToList();
            var (_, winner) = Assert.Single(takeovers);
            Assert.Equal(Outcome.Deployed, lines[winner].Outcome);
            Assert.Single(lines, l => l.Outcome == Outcome.Deployed);
            Assert.All(lines.Where(l => l.IsFailure), l => Assert.Matches($@"locked by run run-{round}-\d, target server1, .*alive", l.Error));
            Assert.All(lines.Where(l => !l.IsFailure && l != lines[winner]), l => Assert.Equal(Outcome.Unchanged, l.Outcome));
            bed.Generate(files: 4, seed: round + 10, version: $"race-{round}");
            Assert.False(bed.Locked("server1"));
        }
    }

    [Fact]
    public async Task A_reconnect_after_another_deploy_switched_stops_and_switches_nothing()
    {
        await using var bed = new DeployBed(servers, count: 2);
        bed.Generate(files: 6, version: "v1");
        await bed.DeployAsync();
        var first = bed.CurrentId("server1")!;
        var proxy1 = bed.Proxy(0);
        // server2 uploads slowly, so that run A's server1 is staged and waits for it (--switch=together).
        bed.Proxy(1, bytesPerSecond: 100_000);
        bed.Generate(files: 12, bytesPerFile: 120_000, seed: 3, version: "v2");
        var staged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progressA = new RecordingProgress { OnPhase = (server, phase) => { if (server == "server1" && phase == Build.Deployment.Progress.DeployPhase.Verified) staged.TrySetResult(); } };
        var runA = DeployAsync(bed, bed.FanOut(run: DeployBed.Run("run-a"), progress: progressA));
        await WaitForAsync(staged, "staging on server1");

        // Meanwhile, someone forces the lock and deploys run B to server1; then A's connection to server1 is cut.
        using (var connection = await bed.Connector().ConnectAsync(bed.Targets()[0], CancellationToken.None))
        {
            using var admin = new ReleaseSession(connection.Shell, Build.Deployment.RemoteRoot.Of(bed.RootOf("server1")), DeployBed.Run("run-admin"), bed.Release, TimeProvider.System, "server1");
            Assert.True((await admin.UnlockAsync(force: true, CancellationToken.None)).WasLocked);
        }
        // Run B deploys a site of its own: run A may still read its site's files (server2's stream, a laggard's own).
        bed.Site = Path.Join(bed.Workspace, "site-b");
        bed.Write("index.html", "run b");
        var reportB = await DeployAsync(bed, bed.FanOut([bed.Targets()[0]], run: DeployBed.Run("run-b"), progress: new RecordingProgress()));
        Assert.Equal(Outcome.Deployed, Assert.Single(reportB.Servers).Outcome);
        var b = bed.CurrentId("server1");
        proxy1.CutAll();

        var reportA = await runA;
        output.WriteLine(progressA.ToString());
        var server1 = reportA.Servers.Single(s => s.Server == "server1");
        Assert.Equal(Outcome.Failed, server1.Outcome);
        Assert.Contains("current changed under this deploy", server1.Error);
        Assert.Equal(ReleaseFailure.CurrentChanged, server1.FailureKind);
        // B's release stays current on server1; server2 serves what it served before (switched back or held back).
        Assert.Equal(b, bed.CurrentId("server1"));
        Assert.Equal(first, bed.CurrentId("server2"));
        Assert.DoesNotContain(bed.LogLines("server1"), l => l.Contains("run=run-a", StringComparison.Ordinal) && l.Contains("outcome=deployed", StringComparison.Ordinal));
        Assert.False(bed.Locked("server1"));
        Assert.False(bed.Locked("server2"));
    }

    [Fact]
    public async Task Two_targets_on_one_directory_take_turns_and_never_share_the_lock()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 10, version: "shared");
        var endpoint = bed.Targets()[0];
        var targets = new[] { new DeployTarget("alias-a", endpoint.Address, endpoint.Port), new DeployTarget("alias-b", endpoint.Address, endpoint.Port) };
        var keys = string.Concat(bed.Fixture[0].HostKeys.Select(k => $"[{endpoint.Address}]:{endpoint.Port} {k}\n"));
        var shared = bed.RootOf("shared");
        FanOut FanOut(SwitchMode mode, TimeSpan wait, RecordingProgress progress)
        {
            bed.Release = bed.Release with { LockWait = wait };
            return new FanOut(targets, bed.Connect(bed.Connector(keys)), DeployBed.Run($"run-{mode}".ToLowerInvariant()), bed.Release,
                new FanOutOptions { RemoteRoot = Build.Deployment.RemoteRoot.Of(shared), Attempts = 1, Switch = mode }, progress, TimeProvider.System);
        }

        // Independent switches: the second target waits for the first, as any other run would, then finds it done.
        var progress = new RecordingProgress();
        var report = await DeployAsync(bed, FanOut(SwitchMode.Independent, TimeSpan.FromSeconds(60), progress));
        output.WriteLine(progress.ToString());
        Assert.Single(report.Servers, s => s.Outcome == Outcome.Deployed);
        Assert.Single(report.Servers, s => s.Outcome == Outcome.Unchanged);
        ReleaseTestKit.AssertSameTree(bed.Site, Path.Join(shared, "current"));
        Assert.Single(Directory.GetDirectories(Path.Join(shared, "releases")));
        Assert.False(Directory.Exists(Path.Join(shared, ".deploy", "lock")));

        // Together: the first holds the lock until every target is staged, so the second gives up naming it.
        bed.Generate(files: 10, seed: 2, version: "shared-2");
        var held = new RecordingProgress();
        var together = await DeployAsync(bed, FanOut(SwitchMode.Together, TimeSpan.FromSeconds(2), held));
        output.WriteLine(held.ToString());
        var failed = Assert.Single(together.Servers, s => s.Outcome == Outcome.Failed);
        Assert.Matches("locked by run run-together, target alias-[ab], .*alive \\(heartbeat [0-9]+ s ago\\)", failed.Error);
        Assert.Equal(Outcome.HeldBack, together.Servers.Single(s => s != failed).Outcome);
        Assert.False(Directory.Exists(Path.Join(shared, ".deploy", "lock")));
        Assert.Empty(Directory.GetDirectories(Path.Join(shared, "releases"), ".*"));
    }

    [Fact]
    public async Task Recorded_times_hours_off_the_servers_clock_neither_keep_nor_break_a_lock()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 4, version: "skew");
        bed.Release = bed.Release with { LockTimeout = TimeSpan.FromSeconds(30), LockWait = TimeSpan.Zero };

        // The crashed client's clock was 6 hours behind: its owner file says it is ancient, the server knows better.
        await LeaveLockAsync(bed, "run-behind", new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-6)));
        var recorded = LockOwner.Parse(File.ReadAllLines(OwnerFile(bed, "server1")))!;
        Assert.InRange(recorded.Heartbeat!.Value, DateTimeOffset.UtcNow.AddHours(-6.1), DateTimeOffset.UtcNow.AddHours(-5.9));
        var refused = await DeployAsync(bed, bed.FanOut(run: DeployBed.Run("run-now"), attempts: 1));
        Assert.Contains("alive (heartbeat", Assert.Single(refused.Servers).Error);
        Assert.True(bed.Locked("server1"));

        // Six hours ahead and abandoned by the server's clock: taken over. (run-ahead itself takes over run-behind's
        // lock once the test ages it.)
        File.SetLastWriteTimeUtc(OwnerFile(bed, "server1"), DateTime.UtcNow.AddMinutes(-2));
        await LeaveLockAsync(bed, "run-ahead", new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(6)));
        Assert.Equal("run-ahead", LockOwner.Parse(File.ReadAllLines(OwnerFile(bed, "server1")))!.RunId);
        File.SetLastWriteTimeUtc(OwnerFile(bed, "server1"), DateTime.UtcNow.AddMinutes(-2));
        var progress = new RecordingProgress();
        var report = await DeployAsync(bed, bed.FanOut(run: DeployBed.Run("run-now"), attempts: 1, progress: progress));
        Assert.Equal(Outcome.Deployed, Assert.Single(report.Servers).Outcome);
        Assert.Contains(progress.Lines, l => l.Contains("took over an abandoned lock (run run-", StringComparison.Ordinal));
    }
}

/// <summary>The lock cases against servers with GNU tools.</summary>
[Collection(DeployCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class ReleaseLockSshGnuTests(DeployServers servers, ITestOutputHelper output) : ReleaseLockSshTests(servers, output);

/// <summary>The lock cases against servers whose sessions find only BusyBox's tools, as on Alpine.</summary>
[Collection(BusyBoxCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class ReleaseLockSshBusyBoxTests(BusyBoxServers servers, ITestOutputHelper output) : ReleaseLockSshTests(servers, output);
