using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Build.Sandbox;
using Xunit.Abstractions;

namespace Build.Tests.Sandbox;

/// <summary>Starting and stopping sandboxes of their own (with the collection's built blog as --site-dir): stop, stale pids, taken ports, a server that will not start.</summary>
[Collection(SandboxCollection.Name)]
[Trait("Category", "Integration")]
[UnsupportedOSPlatform("windows")]
public sealed class SandboxLifecycleTests(SandboxFixture sandbox, ITestOutputHelper output)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(20) };

    private async Task<Support.PipelineRun> StartAsync(SandboxRepo repo)
    {
        Assert.True(sandbox.FirstRun.ExitCode == 0, "the collection's sandbox built the blog");
        var run = await repo.RunAsync("--target=Sandbox", $"--site-dir={sandbox.BuiltSite}");
        output.WriteLine(run.Text[^Math.Min(run.Text.Length, 2500)..]);
        return run;
    }

    [Fact]
    public async Task A_taken_port_makes_the_next_start_pick_another_and_SandboxStop_leaves_no_process_behind()
    {
        await using var repo = new SandboxRepo(withSiteSources: false);
        var first = await StartAsync(repo);
        Assert.True(first.ExitCode == 0, first.Text);
        var before = repo.State!;

        var stop = await repo.RunAsync("--target=SandboxStop");
        Assert.True(stop.ExitCode == 0, stop.Text);

        // Another program takes server1's web port while the sandbox is down.
        var server1 = before.Servers[0];
        using var squatter = new TcpListener(IPAddress.Parse(server1.Address), server1.HttpPort);
        squatter.Start();
        var second = await StartAsync(repo);
        Assert.True(second.ExitCode == 0, second.Text);
        Assert.Contains($"port {server1.HttpPort} is taken", second.Text);
        var state = repo.State!;
        Assert.NotEqual(server1.HttpPort, state.Servers[0].HttpPort);
        Assert.Equal(before.Servers.Select(s => s.SshPort), state.Servers.Select(s => s.SshPort)); // free ones are kept
        foreach (var url in SandboxRepo.Urls(second))
            Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(url)).StatusCode);

        var daemons = state.Daemons.ToList();
        var workers = daemons.Where(d => d.Role == "nginx").SelectMany(d => Daemons.Children(d.Pid)).ToList();
        Assert.NotEmpty(workers);
        Assert.NotEmpty(repo.ProcessesNamingRoot());

        var stopped = await repo.RunAsync("--target=SandboxStop");
        Assert.True(stopped.ExitCode == 0, stopped.Text);
        Assert.Contains("Stopped the sandbox (4 processes)", stopped.Stdout);
        Assert.All(daemons, d => Assert.False(Daemons.IsAlive(d), $"{d.Role} {d.Pid} still runs"));
        Assert.All(workers, w => Assert.False(Daemons.IsAlive(w, null), $"nginx worker {w} still runs"));
        Assert.Empty(repo.ProcessesNamingRoot());
        foreach (var server in state.Servers)
        {
            Assert.False(await AnswersAsync(server.Address, server.SshPort), $"{server.Name} ssh port still answers");
            Assert.False(await AnswersAsync(server.Address, server.HttpPort), $"{server.Name} http port still answers");
        }

        var again = await repo.RunAsync("--target=SandboxStop");
        Assert.True(again.ExitCode == 0, again.Text);
        Assert.Contains("No sandbox is running: nothing to stop.", again.Stdout);
    }

    [Fact]
    public async Task A_server_that_cannot_start_stops_the_half_started_sandbox_and_exits_1_with_its_log()
    {
        await using var repo = new SandboxRepo(withSiteSources: false);
        // server2's host key is garbage: its sshd refuses to start, after server1 started.
        var key = Path.Join(repo.SandboxDirectory, "server2", "ssh_host_ed25519_key");
        Directory.CreateDirectory(Path.GetDirectoryName(key)!);
        await File.WriteAllTextAsync(key, "not a key\n");
        await File.WriteAllTextAsync(key + ".pub", "ssh-ed25519 AAAAnotakey sandbox\n");
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var run = await StartAsync(repo);
        Assert.True(run.ExitCode == 1, run.Text);
        Assert.Contains("server2 sshd did not start", run.Text);
        Assert.Contains("The last lines of", run.Text);
        Assert.Contains("host key", run.Text, StringComparison.OrdinalIgnoreCase); // sshd's own words, from its log
        // The sshds start first, then the nginxes: only server1's sshd was running.
        Assert.Contains("Stopped the 1 daemon(s) it had started", run.Text);
        Assert.Empty(repo.ProcessesNamingRoot());
        Assert.Empty(repo.State!.Daemons);
    }

    [Fact]
    public async Task SandboxStop_detects_stale_pids_the_sandbox_flag_without_a_sandbox_exits_2_and_Clean_removes_it()
    {
        await using var repo = new SandboxRepo(withSiteSources: false);
        using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await gone.WaitForExitAsync();
        Directory.CreateDirectory(repo.SandboxDirectory);
        var config = Path.Join(repo.SandboxDirectory, "server1", "sshd_config");
        new SandboxState
        {
            User = "nobody", DeployKey = "/k", KnownHosts = "/h", RemoteRoot = "/r/{server}", UserArea = repo.SandboxDirectory,
            Servers =
            [
                new SandboxServer
                {
                    Name = "server1", Address = "127.0.0.2", SshPort = 1, HttpPort = 2, RemoteRoot = "/r/server1",
                    // A pid that exited, and this test's own pid (alive, but not a daemon of this sandbox).
                    Daemons = [new DaemonRecord("sshd", gone.Id, config), new DaemonRecord("nginx", Environment.ProcessId, config)],
                },
            ],
        }.Save(Path.Join(repo.SandboxDirectory, "sandbox.json"));

        var releases = await repo.RunAsync("--target=Releases", "--sandbox");
        Assert.True(releases.ExitCode == 2, releases.Text);
        Assert.Contains("none is running. Start it with ./build.sh --target=Sandbox", releases.Text);

        var stop = await repo.RunAsync("--target=SandboxStop");
        Assert.True(stop.ExitCode == 0, stop.Text);
        Assert.Contains("stale pid", stop.Stdout);
        Assert.Contains("nothing to stop", stop.Stdout);
        Assert.Empty(repo.State!.Daemons);

        var clean = await repo.RunAsync("--target=Clean");
        Assert.True(clean.ExitCode == 0, clean.Text);
        Assert.False(Directory.Exists(repo.SandboxDirectory), "Clean removes .sandbox/");
    }

    private static async Task<bool> AnswersAsync(string address, int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Parse(address), port).WaitAsync(TimeSpan.FromSeconds(5));
            return true;
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return false;
        }
    }
}
