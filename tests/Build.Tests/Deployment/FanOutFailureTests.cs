using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Progress;
using Build.Deployment.Release;
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
        // Every release holds the site's files plus the release marker the server writes before the switch.
        var expectedCount = Directory.GetFiles(bed.Site, "*", SearchOption.AllDirectories).Length + 1;
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
        // The summary says which server serves which release.
        var headline = Build.Deployment.Reports.DeploySummary.Headline(report, TimeSpan.Zero);
        output.WriteLine(headline);
        Assert.DoesNotContain("Deployed release", headline);
        Assert.Contains($"server1 serves {first ?? "no release"} (switched-back)", headline);
        Assert.Contains($"server2 serves {first ?? "no release"} (switched-back)", headline);
        Assert.Contains(first is null ? "server3 serves what it served before (failed)" : $"server3 serves {first} (failed)", headline);

        // The retry the summary suggests deploys the release everywhere.
        var again = await bed.DeployAsync();
        Assert.All(again.Servers, s => Assert.Equal(Outcome.Deployed, s.Outcome));
    }

    [Fact]
    public async Task A_switch_whose_reply_was_lost_counts_as_the_switch_it_was_and_the_fleet_stays_on_one_release()
    {
        await using var bed = new DeployBed(servers, count: 2);
        bed.Generate(files: 8, version: "v1");
        var first = await bed.DeployAsync();
        bed.Generate(files: 8, seed: 2, version: "v2");
        // server1's first connection dies right after its switch ran on the server: the client never hears back.
        var connect = bed.Connect();
        var lost = 0;
        ConnectServer losing = async (target, ct) =>
        {
            var link = await connect(target, ct);
            return target.Name == "server1" && Interlocked.Exchange(ref lost, 1) == 0
                ? new ServerLink(new ReplyLosingShell(link.Shell, RemoteScripts.Switch, link.Dispose), link)
                : link;
        };

        var report = await bed.DeployAsync(bed.FanOut(connect: losing));
        output.WriteLine(bed.Progress.ToString());

        Assert.All(report.Servers, s => Assert.Equal(Outcome.Deployed, s.Outcome));
        Assert.Contains(bed.Progress.Lines, l => l.StartsWith("server1: switched", StringComparison.Ordinal) && l.Contains("reply was lost", StringComparison.Ordinal));
        Assert.StartsWith($"Deployed release {report.ReleaseId} to 2 servers", Build.Deployment.Reports.DeploySummary.Headline(report, TimeSpan.Zero));
        foreach (var server in new[] { "server1", "server2" })
        {
            bed.AssertCurrentIsSite(server);
            Assert.False(bed.Locked(server));
            // One switch, logged once, from the release served before: the rollback target stays right.
            var deployed = Assert.Single(bed.LogLines(server), l => l.Contains($"release={report.ReleaseId}", StringComparison.Ordinal));
            Assert.Contains($"from={first.ReleaseId}", deployed);
        }
    }

    [Fact]
    public async Task Two_deploys_to_one_server_serialise_through_the_lock_or_refuse_and_never_interleave()
    {
        await using var bed = new DeployBed(servers, count: 1);
        var proxy = bed.Proxy(0);
        bed.Generate(files: 20, bytesPerFile: 40_000, version: "a");
        var siteA = bed.Site;
        var candidateA = await bed.CandidateAsync();
        // B and C deploy another directory: A streams its files from siteA while they run.
        bed.Site = Path.Join(bed.Workspace, "site-b");
        // A goes through the proxy, B and C straight to the server: pausing the proxy holds A alone.
        var direct = new[] { new DeployTarget("server1", bed.Fixture[0].Address, bed.Fixture[0].Port) };
        var connectDirect = bed.Connect(bed.Connector(knownHosts: bed.KnownHosts() + bed.Fixture[0].KnownHostsLines("server1")));

        // Run A holds the lock mid-upload: the proxy is paused the moment A starts uploading, whatever the machine's speed.
        var aUploading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progressA = new RecordingProgress { OnPhase = (_, phase) => { if (phase == DeployPhase.Upload) { proxy.Pause(); aUploading.TrySetResult(); } } };
        var reportA = new DeployReport { Operation = "deploy", StartedAt = DateTimeOffset.UtcNow };
        var runA = bed.FanOut(run: DeployBed.Run("run-a"), progress: progressA).DeployAsync(Task.FromResult(candidateA), reportA, CancellationToken.None);
        try
        {
            await aUploading.Task.WaitAsync(TimeSpan.FromMinutes(3));

            bed.Generate(files: 20, bytesPerFile: 40_000, seed: 7, version: "b");
            // B with a short lock wait refuses, naming A.
            bed.Release = bed.Release with { LockWait = TimeSpan.FromMilliseconds(300) };
            var refused = await bed.DeployAsync(bed.FanOut(direct, run: DeployBed.Run("run-b"), attempts: 1, progress: new RecordingProgress(), connect: connectDirect));
            var refusedLine = Assert.Single(refused.Servers);
            Assert.Equal(Outcome.Failed, refusedLine.Outcome);
            Assert.Contains("run-a", refusedLine.Error);
            Assert.True(bed.Locked("server1"), "A's lock survives B's refusal");

            // C with a long lock wait asks for the lock while A holds it, waits for A, then deploys its own content after A.
            bed.Release = bed.Release with { LockWait = TimeSpan.FromMinutes(3) };
            var cLocking = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var progressC = new RecordingProgress { OnPhase = (_, phase) => { if (phase == DeployPhase.Lock) cLocking.TrySetResult(); } };
            var runC = bed.DeployAsync(bed.FanOut(direct, run: DeployBed.Run("run-c"), progress: progressC, connect: connectDirect));
            await cLocking.Task.WaitAsync(TimeSpan.FromMinutes(3));
            Assert.True(bed.Locked("server1"), "A still holds the lock while C asks for it");
            proxy.Resume();
            var reportC = await runC;
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
        finally
        {
            proxy.Resume();
            await runA.WaitAsync(TimeSpan.FromMinutes(3)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
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
        // Observable markers, not speed: server1 started uploading, then 200 KB of the upload went through the proxy,
        // where it is held (the rest of the 1.8 MB would take seconds more anyway) so the cancel lands mid-upload.
        var midUpload = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bed.Progress.OnPhase = (server, phase) =>
        {
            if (server != "server1" || phase != DeployPhase.Upload) return;
            proxy.UpstreamReached(proxy.BytesUpstream + 200_000).ContinueWith(_ => { proxy.Pause(); midUpload.TrySetResult(); }, TaskScheduler.Default);
        };
        var candidate = await bed.CandidateAsync();
        var report = new DeployReport { Operation = "deploy", StartedAt = DateTimeOffset.UtcNow };
        var run = bed.FanOut(mode: SwitchMode.Independent).DeployAsync(Task.FromResult(candidate), report, cancel.Token);
        try
        {
            await midUpload.Task.WaitAsync(TimeSpan.FromMinutes(3));
            await cancel.CancelAsync();
            // A dropped link: what the proxy held never reaches the server, and the clean-up connects afresh.
            proxy.CutAll();
            proxy.Resume();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }
        finally
        {
            proxy.Resume();
        }
        output.WriteLine(bed.Progress.ToString());

        var line = report.Servers.Single(s => s.Server == "server1");
        Assert.Equal(Outcome.Failed, line.Outcome);
        Assert.Equal("cancelled", line.Error);
        Assert.Equal(first.ReleaseId, line.ReleaseId); // what it serves
        Assert.Equal(first.ReleaseId, bed.CurrentId("server1"));
        Assert.False(bed.Locked("server1"));
        Assert.Equal(2, report.Servers.Count);
        // Once the server's side of the cut upload has ended (its part processes saw the drop), no staging is left.
        await Support.Poll.UntilAsync(() => !RunningUnder(bed.RootOf("server1")), TimeSpan.FromMinutes(1), "the server's upload processes to end");
        Assert.Equal([first.ReleaseId!], bed.Releases("server1"));
    }

    /// <summary>Whether a process on this machine (the test servers are local) has <paramref name="root"/> on its command line.</summary>
    private static bool RunningUnder(string root)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _)) continue;
            try
            {
                if (File.ReadAllText(Path.Join(dir, "cmdline")).Contains(root, StringComparison.Ordinal)) return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended meanwhile.
            }
        }
        return false;
    }
}
