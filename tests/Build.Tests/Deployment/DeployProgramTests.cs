using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Build.Deployment.Reports;
using Build.Tests.Deployment.Release;
using Xunit.Abstractions;

using Build.Tests.Support;

namespace Build.Tests.Deployment;

/// <summary>
/// The whole program (the built Build.dll, as build.sh runs it) deploying to real sshd servers with
/// --tailnet=off --hosts=...: exit codes, reports, the printed retry command, signals.
/// </summary>
[Collection(DeployCollection.Name)]
[Trait("Requires", "FrostingHost")]
[UnsupportedOSPlatform("windows")]
public sealed class DeployProgramTests(DeployServers servers, ITestOutputHelper output)
{
    [Fact]
    public async Task Deploy_writes_both_reports_then_Releases_lists_and_Rollback_touches_only_the_named_server()
    {
        await using var bed = new DeployBed(servers, count: 2);
        bed.Generate(files: 12, version: "v1");
        var siteV1 = bed.Site;
        var logins = bed.Fixture.Select(Logins).ToList();

        var deploy = await RunAsync(bed, "--target=Deploy");
        Assert.Equal(0, deploy.ExitCode);
        // One login per server: the deploy took the connection FindServers opened while the site was being checked.
        var expected = logins.Select(n => n + 1).ToList();
        await Poll.UntilAsync(() => bed.Fixture.Select(Logins).Zip(expected).All(p => p.First >= p.Second), TimeSpan.FromSeconds(10), "each sshd's log of the deploy's login");
        Assert.Equal(expected, bed.Fixture.Select(Logins));
        var summary = System.Text.RegularExpressions.Regex.Match(deploy.Stdout, @"Deployed release (\S+) to 2 servers in [0-9.]+ s \(connect to last switch\)");
        Assert.True(summary.Success, "the benchmark's summary line is printed");
        var first = summary.Groups[1].Value;
        var json = JsonNode.Parse(File.ReadAllText(Path.Join(deploy.Artifacts, "deploy-report.json")))!;
        Assert.Equal("deploy", (string?)json["operation"]);
        Assert.Equal(first, (string?)json["release_id"]);
        Assert.Equal(["deployed", "deployed"], json["servers"]!.AsArray().Select(s => (string?)s!["outcome"]));
        var junit = XDocument.Load(Path.Join(deploy.Artifacts, "deploy-report.xml"));
        Assert.Equal(["server1", "server2"], junit.Descendants("testcase").Select(t => (string?)t.Attribute("name")).Order());
        Assert.Empty(junit.Descendants("failure"));
        bed.AssertCurrentIsSite("server1");
        bed.AssertCurrentIsSite("server2");

        bed.Site = Path.Join(bed.Workspace, "site-v2");
        bed.Generate(files: 12, seed: 2, version: "v2");
        var second = (await bed.DeployAsync()).ReleaseId!;

        var releases = await RunAsync(bed, "--target=Releases");
        Assert.Equal(0, releases.ExitCode);
        Assert.Matches($@"{second}\s+commit \S+\s+\S+ \S+\s+\[current\]", releases.Stdout);
        Assert.Matches($@"{first}\s+commit \S+\s+\S+ \S+\s+\[rollback target\]", releases.Stdout);

        var untouched = DeployBed.Snapshot(bed.RootOf("server2"));
        var rollback = await RunAsync(bed, "--target=Rollback", "--server=server1");
        Assert.Equal(0, rollback.ExitCode);
        Assert.Equal(first, bed.CurrentId("server1"));
        ReleaseTestKit.AssertSameTree(siteV1, bed.Current("server1"));
        Assert.Equal(untouched, DeployBed.Snapshot(bed.RootOf("server2")));
        var rolled = JsonNode.Parse(File.ReadAllText(Path.Join(rollback.Artifacts, "deploy-report.json")))!;
        Assert.Equal("rollback", (string?)rolled["operation"]);
        var line = Assert.Single(rolled["servers"]!.AsArray())!;
        Assert.Equal(("server1", "rolled-back", first, second), ((string?)line["server"], (string?)line["outcome"], (string?)line["release_id"], (string?)line["previous_release_id"]));
    }

    [Fact]
    public async Task A_server_down_and_a_host_key_mismatch_exit_3_name_them_and_print_the_retry_command()
    {
        await using var bed = new DeployBed(servers, count: 2);
        bed.Generate(files: 8, version: "v1");
        await bed.DeployAsync();
        var before = DeployBed.Snapshot(bed.RootOf("server2"));
        bed.Generate(files: 8, seed: 5, version: "v2");

        // server2's known_hosts line holds another server's key: a mismatch. down1 listens nowhere.
        var knownHosts = string.Concat(servers.Servers[0].HostKeys.Select(k => $"[server1]:{servers.Servers[0].Port} {k}\n"))
            + string.Concat(servers.Servers[2].HostKeys.Select(k => $"[server2]:{servers.Servers[1].Port} {k}\n"));
        var down = bed.Down("down1");
        var run = await RunAsync(bed, ["--target=Deploy", "--switch=independent"], knownHosts: knownHosts, extraHosts: [$"down1={down.Address}:{down.Port}"]);

        Assert.Equal(3, run.ExitCode);
        Assert.Contains("MISMATCH", run.Text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Deployed release", run.Stdout); // only server1 switched: no claim about all three
        Assert.Matches(@"Release \S+ is served by 1 of 3 servers: server1 serves \S+; server2 serves [^;]+ \(failed\)", run.Stdout);
        // The retry command repeats the run's options (hosts, key, known hosts, root...) and replaces the server selection.
        var retry = System.Text.RegularExpressions.Regex.Match(run.Text, @"\./build\.sh --target=Deploy \S.*--server=server2,down1");
        Assert.True(retry.Success, "the retry command is printed");
        Assert.Contains("--switch=independent", retry.Value);
        Assert.Contains("--tailnet=off", retry.Value);
        Assert.Equal(before, DeployBed.Snapshot(bed.RootOf("server2")));
        bed.AssertCurrentIsSite("server1");
        var junit = XDocument.Load(Path.Join(run.Artifacts, "deploy-report.xml"));
        Assert.Equal(3, junit.Descendants("testcase").Count());
        Assert.Equal(["down1", "server2"], junit.Descendants("testcase").Where(t => t.Element("failure") is not null).Select(t => (string?)t.Attribute("name")).Order());
        var json = JsonNode.Parse(File.ReadAllText(Path.Join(run.Artifacts, "deploy-report.json")))!;
        Assert.Equal("failed", (string?)json["servers"]!.AsArray().Single(s => (string?)s!["server"] == "down1")!["outcome"]);

        // Pasted as printed (only the working directory added, which build.sh's cwd gives): it works on exactly those two.
        // (Its words hold no spaces here; quoted ones, such as the remote root's {server}, lose their quotes as sh would.)
        var words = retry.Value.Split(' ')[1..].Select(w => w.Length > 1 && w[0] == '\'' && w[^1] == '\'' ? w[1..^1] : w).ToArray();
        var pasted = await RunAsync(bed, words, knownHosts: knownHosts, bare: true);
        Assert.Equal(3, pasted.ExitCode); // server2's key still mismatches and down1 is still down
        var again = JsonNode.Parse(File.ReadAllText(Path.Join(pasted.Artifacts, "deploy-report.json")))!;
        Assert.Equal(["server2", "down1"], again["servers"]!.AsArray().Select(s => (string?)s!["server"]));
    }

    [Fact]
    public async Task An_empty_site_dir_exits_2_and_changes_nothing()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 4, version: "v1");
        await bed.DeployAsync();
        var before = DeployBed.Snapshot(bed.RootOf("server1"));
        bed.Site = Path.Join(bed.Workspace, "empty-site");
        Directory.CreateDirectory(Path.Join(bed.Site, "sub"));

        var run = await RunAsync(bed, "--target=Deploy");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("holds no files", run.Text);
        Assert.Equal(before, DeployBed.Snapshot(bed.RootOf("server1")));
    }

    [Fact]
    public async Task A_site_that_fails_its_check_exits_1_and_no_server_is_locked_or_logged()
    {
        // The check goes on while the deploy connects (CheckSite does not wait when Deploy follows): its verdict
        // still comes before any lock.
        await using var bed = new DeployBed(servers, count: 2);
        bed.Generate(files: 4, version: "v1");
        await bed.DeployAsync();
        var before = bed.Targets().Select(t => DeployBed.Snapshot(bed.RootOf(t.Name))).ToList();
        File.WriteAllText(Path.Join(bed.Site, "index.html"), "<html><body><a href=\"/missing/page.html\">gone</a></body></html>");

        var run = await RunAsync(bed, "--target=Deploy");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("broken internal link", run.Text);
        Assert.Contains("/missing/page.html", run.Text);
        Assert.Equal(before, bed.Targets().Select(t => DeployBed.Snapshot(bed.RootOf(t.Name))).ToList());
    }

    [Fact]
    public async Task Sigterm_during_a_slow_upload_exits_143_with_reports_and_current_intact()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 4, version: "v1");
        var first = (await bed.DeployAsync()).ReleaseId;
        bed.Proxy(0, bytesPerSecond: 150_000);
        bed.Generate(files: 30, bytesPerFile: 100_000, seed: 9, version: "v2");

        var run = await RunAsync(bed, ["--target=Deploy"], during: async (process, lines) =>
        {
            var upload = lines.WaitForAsync("server1: upload ", TimeSpan.FromSeconds(90));
            await Task.WhenAny(upload, process.WaitForExitAsync());
            Assert.True(upload.IsCompletedSuccessfully, "the upload started before the program ended");
            Assert.Equal(0, PipelineProcess.Signal(process, 15));
        });

        Assert.Equal(143, run.ExitCode);
        Assert.Equal(first, bed.CurrentId("server1"));
        Assert.Equal([first!], bed.Releases("server1"));
        Assert.False(bed.Locked("server1"));
        var json = JsonNode.Parse(File.ReadAllText(Path.Join(run.Artifacts, "deploy-report.json")))!;
        Assert.Equal("failed", (string?)json["servers"]![0]!["outcome"]);
        Assert.True(File.Exists(Path.Join(run.Artifacts, "deploy-report.xml")));
    }

    [Fact]
    public async Task Plan_changes_nothing_and_Unlock_removes_a_left_lock_after_naming_its_owner()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 6, version: "v1");
        await bed.DeployAsync();
        bed.Write("index.html", "<html>planned <a href=\"/atom.xml\">feed</a></html>\n");
        using (var connection = await bed.Connector().ConnectAsync(bed.Targets()[0], CancellationToken.None))
        {
            var crashed = new Build.Deployment.Release.ReleaseSession(connection.Shell, Build.Deployment.RemoteRoot.Of(bed.RootOf("server1")), DeployBed.Run("run-crashed"), bed.Release, TimeProvider.System);
            await crashed.PrepareAsync(withManifest: false, CancellationToken.None);
        }
        var before = DeployBed.Snapshot(bed.RootOf("server1"));

        var plan = await RunAsync(bed, "--target=Deploy", "--plan", "--verbosity=verbose");
        Assert.Equal(0, plan.ExitCode);
        Assert.Contains("run-crashed", plan.Stdout);
        Assert.Equal(before, DeployBed.Snapshot(bed.RootOf("server1")));
        var json = JsonNode.Parse(File.ReadAllText(Path.Join(plan.Artifacts, "deploy-report.json")))!;
        Assert.Equal("plan", (string?)json["operation"]);
        Assert.Equal(("planned", 1), ((string?)json["servers"]![0]!["outcome"], (int)json["servers"]![0]!["files_sent"]!));
        // At -v verbose the plan names the files, and its figures agree with the report (singular, too).
        var size = new FileInfo(Path.Join(bed.Site, "index.html")).Length;
        Assert.Contains($"server1: would-send index.html ({size} B)", plan.Stdout);
        Assert.Contains($"send 1 file ({size} B)", plan.Stdout);
        Assert.Equal(size, (long)json["servers"]![0]!["bytes_sent"]!);

        // A crashed run's lock: by the time someone unlocks it, its heartbeat is older than --lock-timeout.
        File.SetLastWriteTimeUtc(Path.Join(bed.RootOf("server1"), ".deploy", "lock", "owner"), DateTime.UtcNow.AddMinutes(-10));
        var unlock = await RunAsync(bed, "--target=Unlock", "--server=server1");
        Assert.Equal(0, unlock.ExitCode);
        Assert.Contains("removed the lock", unlock.Stdout);
        Assert.Contains("run-crashed", unlock.Stdout);
        Assert.False(bed.Locked("server1"));
    }

    private sealed record Run(int ExitCode, string Stdout, string Stderr, string Artifacts)
    {
        public string Text => Stdout + "\n" + Stderr;
    }

    /// <summary>Lines printed so far, and a wait for one containing a marker.</summary>
    private sealed class Lines
    {
        private readonly StringBuilder _text = new();
        private readonly List<(string Marker, TaskCompletionSource Seen)> _waits = [];

        public void Add(string line)
        {
            lock (_text)
            {
                _text.AppendLine(line);
                foreach (var w in _waits.Where(w => line.Contains(w.Marker, StringComparison.Ordinal))) w.Seen.TrySetResult();
            }
        }

        public Task WaitForAsync(string marker, TimeSpan timeout)
        {
            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_text)
            {
                if (_text.ToString().Contains(marker, StringComparison.Ordinal)) return Task.CompletedTask;
                _waits.Add((marker, seen));
            }
            return seen.Task.WaitAsync(timeout);
        }

        public override string ToString()
        {
            lock (_text) return _text.ToString();
        }
    }

    private Task<Run> RunAsync(DeployBed bed, params string[] arguments) => RunAsync(bed, arguments, null, null, null);

    private async Task<Run> RunAsync(DeployBed bed, string[] arguments, Func<Process, Lines, Task>? during = null, string? knownHosts = null, string[]? extraHosts = null, bool bare = false)
    {
        var work = Path.Join(bed.Workspace, "work-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        // Build's CheckSite link-checks --site-dir against the Hexo config of the working directory's site/.
        Directory.CreateDirectory(Path.Join(work, "site"));
        File.WriteAllText(Path.Join(work, "site", "_config.yml"), "url: https://blog.example.com\nroot: /\nfeed:\n  type: atom\n  path: atom.xml\n");
        var hosts = bed.Targets().Select(t => $"{t.Name}={t.Address}:{t.Port}").Concat(extraHosts ?? []);
        string[] defaults =
        [
            $"--working={work}", "--tailnet=off",
            $"--hosts={string.Join(',', hosts)}", $"--site-dir={bed.Site}", $"--ssh-key={bed.Fixture[0].UserKey.PrivateKeyPath}",
            $"--known-hosts={bed.KnownHostsFile(knownHosts)}", $"--remote-root={bed.RemoteRoot}", $"--ssh-user={bed.User}",
            "--retries=2", "--retry-delay=50ms", "--connect-timeout=10s",
        ];
        if (bare) defaults = [$"--working={work}"];
        var lines = new Lines();
        PipelineRun result;
        try
        {
            result = await PipelineProcess.RunAsync(defaults.Concat(arguments), work, new Dictionary<string, string>(), TimeSpan.FromSeconds(180),
                lines.Add, during is null ? null : process => during(process, lines));
        }
        catch
        {
            output.WriteLine(lines.ToString());
            throw;
        }
        var run = new Run(result.ExitCode, result.Stdout, result.Stderr, Path.Join(work, "artifacts"));
        output.WriteLine($"$ {string.Join(' ', arguments)} -> {run.ExitCode}\n{run.Text}");
        return run;
    }

    private static int Logins(TestHosts.SshServer server) =>
        System.Text.RegularExpressions.Regex.Count(server.Log, "Accepted publickey for ");
}
