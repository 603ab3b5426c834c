using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Release;
using Build.Deployment.Progress;
using Build.Settings;
using Build.Tests.Deployment.Release;
using Build.Deployment.Reports;
using TestHosts;
using Xunit.Abstractions;

namespace Build.Tests.Deployment;

/// <summary>The fan-out when things go wrong: cuts, refusals, a server down, two deploys at once, cancellation.</summary>
[Collection(DeployCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class FanOutFailureTests(DeployServers servers, ITestOutputHelper output)
{
    [Fact]
    public async Task A_cut_mid_upload_is_retried_and_succeeds_and_a_watcher_never_sees_a_partial_release()
    {
        await using var bed = new DeployBed(servers, count: 2);
        var proxy = bed.Proxy(0);
        bed.Generate(files: 30, bytesPerFile: 8000, version: "v0");
        var expectedCount = Directory.GetFiles(bed.Site, "*", SearchOption.AllDirectories).Length;
        await bed.DeployAsync();

        // The watcher resolves current as a web server would and reads index.html and the file count.
        using var stop = new CancellationTokenSource();
        var seen = new HashSet<string>();
        var problems = new List<string>();
        var watcher = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var server in new[] { "server1", "server2" })
                {
                    try
                    {
                        var target = Directory.ResolveLinkTarget(bed.Current(server), returnFinalTarget: true)?.FullName;
                        if (target is null || target.EndsWith(".partial", StringComparison.Ordinal)) { problems.Add($"{server}: current -> {target}"); continue; }
                        var index = File.ReadAllText(Path.Join(target, "index.html"));
                        var count = Directory.GetFiles(target, "*", SearchOption.AllDirectories).Length;
                        if (count != expectedCount) problems.Add($"{server}: {count} files in {target}");
                        lock (seen) seen.Add(index);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        problems.Add($"{server}: {e.Message}");
                    }
                }
            }
        });

        for (var round = 1; round <= 3; round++)
        {
            bed.Generate(files: 30, bytesPerFile: 8000, seed: round + 10, version: $"v{round}");
            var armed = 0;
            bed.Progress.OnPhase = (server, phase) =>
            {
                // Arm the cut once, when server1's first upload attempt starts: reset its connection 60 KB into the stream.
                if (server == "server1" && phase == DeployPhase.Upload && Interlocked.Exchange(ref armed, 1) == 0) proxy.CutOnceAfter(60_000);
            };
            var report = await bed.DeployAsync();
            bed.Progress.OnPhase = null;
            output.WriteLine($"round {round}:\n{bed.Progress}");
            Assert.All(report.Servers, s => Assert.Equal(Outcome.Deployed, s.Outcome));
            Assert.Contains(bed.Progress.Lines, l => l.StartsWith("server1: retry", StringComparison.Ordinal));
            bed.AssertCurrentIsSite("server1");
            bed.AssertCurrentIsSite("server2");
            Assert.False(bed.Locked("server1"));
        }
        await stop.CancelAsync();
        await watcher;
        Assert.Equal(3, proxy.Cuts);
        Assert.Empty(problems);
        Assert.True(seen.Count >= 2, $"the watcher saw {seen.Count} versions");
        Assert.DoesNotContain(bed.Releases("server1"), n => n.EndsWith(".partial", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Unknown_host_wrong_host_key_and_wrong_user_key_fail_clearly_without_retry_and_change_nothing()
    {
        await using var bed = new DeployBed(servers, count: 1);
        var proxy = bed.Proxy(0);
        bed.Generate(files: 6);
        await bed.DeployAsync();
        var before = DeployBed.Snapshot(bed.RootOf("server1"));
        bed.Write("index.html", "<html>not to be deployed</html>\n");
        var port = proxy.Port;

        async Task<ServerReport> Attempt(ConnectServer connect)
        {
            var connections = proxy.Connections;
            var report = await bed.DeployAsync(bed.FanOut(connect: connect, attempts: 4));
            var line = Assert.Single(report.Servers);
            Assert.Equal(Outcome.Failed, line.Outcome);
            Assert.Equal(1, proxy.Connections - connections);
            Assert.Equal(before, DeployBed.Snapshot(bed.RootOf("server1")));
            return line;
        }

        var unknown = await Attempt(bed.Connect(bed.Connector(knownHosts: "")));
        Assert.Contains("SHA256:", unknown.Error);
        Assert.Contains($":{port} ssh-ed25519 ", unknown.Error);

        var other = servers.Servers[1].HostKeys.Select(k => $"[server1]:{port} {k}\n");
        var mismatch = await Attempt(bed.Connect(bed.Connector(knownHosts: string.Concat(other))));
        Assert.Contains("MISMATCH", mismatch.Error, StringComparison.OrdinalIgnoreCase);

        var stranger = await servers.Servers[2].CreateUserKeyAsync(authorize: false);
        var refused = await Attempt(bed.Connect(bed.Connector(key: stranger)));
        Assert.Contains("refused", refused.Error);
        Assert.Contains("authorized_keys", refused.Error);
        Assert.Contains("usermod -p '*'", refused.Error); // the locked-account cause
        Assert.DoesNotContain(bed.Progress.Lines, l => l.Contains(": retry", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_remote_root_that_is_not_writable_fails_clearly_without_retry()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 4);
        // Owned by root, mode 755: the login user may look but not write.
        var locked = Path.Join(bed.Workspace, "root-owned");
        Directory.CreateDirectory(locked);
        File.SetUnixFileMode(locked, (UnixFileMode)0b111_101_101);
        var fanOut = new FanOut(bed.Targets(), bed.Connect(), DeployBed.Run("run-ro"), bed.Release,
            new FanOutOptions { RemoteRoot = RemoteRoot.Of(Path.Join(locked, "{server}")), Attempts = 4, RetryDelay = TimeSpan.FromMilliseconds(50) },
            bed.Progress, TimeProvider.System);
        var report = await bed.DeployAsync(fanOut);
        output.WriteLine(bed.Progress.ToString());
        var line = Assert.Single(report.Servers);
        Assert.Equal(Outcome.Failed, line.Outcome);
        Assert.Contains(locked, line.Error);
        Assert.DoesNotContain(bed.Progress.Lines, l => l.Contains(": retry", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFileSystemEntries(locked));
    }

    [Theory]
    [InlineData(SwitchMode.Together)]
    [InlineData(SwitchMode.Independent)]
    public async Task One_server_down(SwitchMode mode)
    {
        await using var bed = new DeployBed(servers, count: 2);
        bed.Generate(files: 8, version: "v1");
        var first = await bed.DeployAsync();
        bed.Generate(files: 8, seed: 2, version: "v2");
        var targets = bed.Targets().Append(bed.Down("down1")).ToList();

        var report = await bed.DeployAsync(bed.FanOut(targets, mode));
        output.WriteLine(bed.Progress.ToString());

        var down = report.Servers.Single(s => s.Server == "down1");
        Assert.Equal(Outcome.Failed, down.Outcome);
        Assert.Equal(3, bed.Progress.Count("down1", "connect")); // transient: retried up to --retries attempts
        Assert.Matches(@"Connection to 127\.0\.0\.5 port \d+ \(down1\) was refused.*address, the port.*firewall or tailnet policy", down.Error);
        Assert.Equal(["down1"], report.Failed.Select(s => s.Server));
        // Together: the held-back servers do not serve the new release either, so the retry names them too.
        Assert.Equal(mode == SwitchMode.Together ? "./build.sh --target=Deploy --server=server1,server2,down1" : "./build.sh --target=Deploy --server=down1",
            Build.Deployment.Reports.DeploySummary.RetryCommand(report, "Deploy", []));
        foreach (var server in new[] { "server1", "server2" })
        {
            var line = report.Servers.Single(s => s.Server == server);
            Assert.False(bed.Locked(server));
            if (mode == SwitchMode.Together)
            {
                Assert.Equal(Outcome.HeldBack, line.Outcome);
                Assert.Contains("down1", line.Error);
                Assert.Equal(first.ReleaseId, line.ReleaseId); // what it serves
                Assert.Equal(first.ReleaseId, bed.CurrentId(server));
                Assert.Equal([first.ReleaseId!], bed.Releases(server)); // the staged upload was withdrawn
            }
            else
            {
                Assert.Equal(Outcome.Deployed, line.Outcome);
                bed.AssertCurrentIsSite(server);
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_switch_that_fails_after_others_switched_switches_them_back(bool firstDeploy)
    {
        await using var bed = new DeployBed(servers, count: 3);
        bed.Generate(files: 8, version: "v1");
        var first = firstDeploy ? null : (await bed.DeployAsync()).ReleaseId;
        bed.Generate(files: 8, seed: 2, version: "v2");
        // server3 loses its lock just before its switch: its switch fails while server1 and server2 switch.
        bed.Progress.OnPhase = (server, phase) =>
        {
            if (server == "server3" && phase == DeployPhase.Switch) Directory.Delete(Path.Join(bed.RootOf("server3"), ".deploy", "lock"), recursive: true);
        };
        var report = await bed.DeployAsync();
        bed.Progress.OnPhase = null;
        output.WriteLine(bed.Progress.ToString());

        Assert.Equal(Outcome.Failed, report.Servers.Single(s => s.Server == "server3").Outcome);
        foreach (var server in new[] { "server1", "server2" })
        {
            var line = report.Servers.Single(s => s.Server == server);
            Assert.Equal(Outcome.SwitchedBack, line.Outcome);
            Assert.Equal(first, line.ReleaseId);
            Assert.Contains("server3", line.Error);
            Assert.Contains(bed.LogLines(server), l => l.Contains("\tswitch-back\t", StringComparison.Ordinal) && l.Contains("outcome=switched-back", StringComparison.Ordinal));
        }
        foreach (var server in new[] { "server1", "server2", "server3" })
        {
            Assert.Equal(first, bed.CurrentId(server)); // one release (or none) across the fleet again
            if (firstDeploy) Assert.False(File.Exists(bed.Current(server)) || Directory.Exists(bed.Current(server)));
            Assert.False(bed.Locked(server));
        }
        Assert.Equal("./build.sh --target=Deploy --server=server1,server2,server3", Build.Deployment.Reports.DeploySummary.RetryCommand(report, "Deploy", []));
        Assert.DoesNotContain("Deployed release", Build.Deployment.Reports.DeploySummary.Headline(report, TimeSpan.Zero));

        // The retry the summary suggests deploys the release everywhere.
        var again = await bed.DeployAsync();
        Assert.All(again.Servers, s => Assert.Equal(Outcome.Deployed, s.Outcome));
    }

    [Fact]
    public async Task Two_deploys_to_one_server_serialise_through_the_lock_or_refuse_and_never_interleave()
    {
        await using var bed = new DeployBed(servers, count: 1);
        var proxy = bed.Proxy(0, bytesPerSecond: 400_000);
        bed.Generate(files: 20, bytesPerFile: 40_000, version: "a");
        var siteA = bed.Site;
        var candidateA = await bed.CandidateAsync();
        // B and C deploy another directory: A streams its files from siteA while they run.
        bed.Site = Path.Join(bed.Workspace, "site-b");

        // Run A uploads slowly through the capped proxy; run B starts once A holds the lock.
        var aUploading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progressA = new RecordingProgress { OnPhase = (_, phase) => { if (phase == DeployPhase.Upload) aUploading.TrySetResult(); } };
        var reportA = new DeployReport { Operation = "deploy", StartedAt = DateTimeOffset.UtcNow };
        var runA = bed.FanOut(run: DeployBed.Run("run-a"), progress: progressA).DeployAsync(Task.FromResult(candidateA), reportA, CancellationToken.None);
        await aUploading.Task.WaitAsync(TimeSpan.FromSeconds(60));

        bed.Generate(files: 20, bytesPerFile: 40_000, seed: 7, version: "b");
        // B with a short lock wait refuses, naming A.
        bed.Release = bed.Release with { LockWait = TimeSpan.FromMilliseconds(300) };
        var progressB = new RecordingProgress();
        var refused = await bed.DeployAsync(bed.FanOut(bed.Targets(), run: DeployBed.Run("run-b"), attempts: 1, progress: progressB,
            connect: bed.Connect()));
        var refusedLine = Assert.Single(refused.Servers);
        Assert.Equal(Outcome.Failed, refusedLine.Outcome);
        Assert.Contains("run-a", refusedLine.Error);
        Assert.True(bed.Locked("server1"), "A's lock survives B's refusal");

        // C with a long lock wait waits for A and then deploys its own content after A.
        bed.Release = bed.Release with { LockWait = TimeSpan.FromMinutes(2) };
        var reportC = await bed.DeployAsync(bed.FanOut(run: DeployBed.Run("run-c"), progress: new RecordingProgress()));
        await runA;
        Assert.Equal(Outcome.Deployed, Assert.Single(reportA.Servers).Outcome);
        Assert.Equal(Outcome.Deployed, Assert.Single(reportC.Servers).Outcome);
        bed.AssertCurrentIsSite("server1");
        Build.Tests.Deployment.Release.ReleaseTestKit.AssertSameTree(siteA, Path.Join(bed.RootOf("server1"), "releases", candidateA.ReleaseId));

        // The log shows A's whole deploy before C's: lock order, not interleaving.
        var log = bed.LogLines("server1").Where(l => l.Contains("outcome=deployed", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, log.Count);
        Assert.Contains("run=run-a", log[0]);
        Assert.Contains("run=run-c", log[1]);
        Assert.Contains($"from={candidateA.ReleaseId}", log[1]);
        Assert.False(bed.Locked("server1"));
    }

    [Fact]
    public async Task Unlock_prints_the_owner_and_frees_the_server()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 4);
        using (var connection = await bed.Connector().ConnectAsync(bed.Targets()[0], CancellationToken.None))
        {
            var crashed = new ReleaseSession(connection.Shell, RemoteRoot.Of(bed.RootOf("server1")), DeployBed.Run("run-crashed"), bed.Release, TimeProvider.System);
            await crashed.PrepareAsync(withManifest: false, CancellationToken.None);
        }
        Assert.True(bed.Locked("server1"));
        bed.Release = bed.Release with { LockWait = TimeSpan.FromMilliseconds(200) };
        var refused = await bed.DeployAsync(bed.FanOut(attempts: 1));
        Assert.Contains("run-crashed", Assert.Single(refused.Servers).Error);

        var owners = new List<string>();
        var report = new DeployReport { Operation = "unlock", StartedAt = DateTimeOffset.UtcNow };
        await bed.FanOut().ForEachAsync(report, async (target, session, ct) =>
        {
            // The crashed run's heartbeat is seconds old: only --force-unlock removes it before --lock-timeout.
            var (was, owner, _) = await session.UnlockAsync(force: true, ct);
            owners.Add($"{target.Name}:{was}:{owner}");
            return Outcome.Unchanged;
        }, CancellationToken.None);
        Assert.Contains("run-crashed", Assert.Single(owners));
        Assert.StartsWith("server1:True:", owners[0]);
        Assert.False(bed.Locked("server1"));

        var deployed = await bed.DeployAsync();
        Assert.Equal(Outcome.Deployed, Assert.Single(deployed.Servers).Outcome);
    }

    [Fact]
    public async Task Cancellation_mid_upload_leaves_current_intact_and_the_report_filled()
    {
        await using var bed = new DeployBed(servers, count: 2);
        var proxy = bed.Proxy(0, bytesPerSecond: 300_000);
        bed.Generate(files: 6, version: "v1");
        var first = await bed.DeployAsync();
        bed.Generate(files: 30, bytesPerFile: 60_000, seed: 3, version: "v2");

        using var cancel = new CancellationTokenSource();
        var upstreamAtUpload = -1L;
        bed.Progress.OnPhase = (server, phase) => { if (server == "server1" && phase == DeployPhase.Upload) Interlocked.Exchange(ref upstreamAtUpload, proxy.BytesUpstream); };
        var candidate = await bed.CandidateAsync();
        var report = new DeployReport { Operation = "deploy", StartedAt = DateTimeOffset.UtcNow };
        var run = bed.FanOut(mode: SwitchMode.Independent).DeployAsync(Task.FromResult(candidate), report, cancel.Token);
        // Observable marker: 200 KB of the upload went through the proxy.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Interlocked.Read(ref upstreamAtUpload) < 0 || proxy.BytesUpstream - Interlocked.Read(ref upstreamAtUpload) < 200_000)
        {
            Assert.True(DateTime.UtcNow < deadline, "the upload did not start");
            await Task.Delay(20);
        }
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        output.WriteLine(bed.Progress.ToString());

        var line = report.Servers.Single(s => s.Server == "server1");
        Assert.Equal(Outcome.Failed, line.Outcome);
        Assert.Equal("cancelled", line.Error);
        Assert.Equal(first.ReleaseId, bed.CurrentId("server1"));
        Assert.Equal([first.ReleaseId!], bed.Releases("server1"));
        Assert.False(bed.Locked("server1"));
        Assert.Equal(2, report.Servers.Count);
    }
}
