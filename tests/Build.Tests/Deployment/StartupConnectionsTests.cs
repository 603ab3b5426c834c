using Build.Deployment;
using Build.Settings;
using Build.Tests.Deployment.Ssh;

namespace Build.Tests.Deployment;

/// <summary>Connections opened from the command line alone, before the host runs: taken by FindServers only when it resolved the same.</summary>
public sealed class StartupConnectionsTests(SshServerFixture fixture) : IClassFixture<SshServerFixture>, IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("startup-connections-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private async Task<string[]> ArgsAsync(string target = "--target=Deploy", string tailnet = "--tailnet=off")
    {
        var server = fixture.Server;
        var knownHosts = Path.Join(root, "known_hosts");
        await File.WriteAllTextAsync(knownHosts, server.KnownHostsLines());
        return [target, tailnet, "--hosts", $"web={server.Address}:{server.Port}", $"--ssh-user={server.UserName}",
            $"--ssh-key={server.UserKey.PrivateKeyPath}", $"--known-hosts={knownHosts}", "--site-dir=site/public"];
    }

    private SshSettings Resolved(string[] args)
    {
        var arguments = StartupConnections.TaskArguments(args);
        return SshSettings.From(new SettingsSource(name => arguments[name].ToArray(), _ => null, null, root));
    }

    [Fact]
    public async Task A_deploy_to_hosts_without_the_tailnet_is_connected_before_the_host_asks_and_taken_once()
    {
        var args = await ArgsAsync();
        using var connections = StartupConnections.Start(args, root, CancellationToken.None);
        await connections.Started.WaitAsync(TimeSpan.FromSeconds(30));
        var target = fixture.Target("web");

        Assert.Null(connections.Take(target, Resolved(args) with { User = "someone-else" }));
        var opening = connections.Take(target, Resolved(args));
        Assert.NotNull(opening);
        using var link = await opening.WaitAsync(TimeSpan.FromSeconds(30));
        var result = await link.Shell.RunAsync("echo connected", [], null, CancellationToken.None);
        Assert.Equal("connected\n", result.Output);
        Assert.Null(connections.Take(target, Resolved(args))); // once
    }

    [Theory]
    [InlineData("--target=Build", "--tailnet=off")] // does not connect
    [InlineData("--target=Deploy", "--tailnet=existing")] // servers come through the tailnet
    public async Task Nothing_is_opened_unless_the_command_line_names_the_servers_of_a_target_that_connects(string target, string tailnet)
    {
        var args = await ArgsAsync(target, tailnet);
        using var connections = StartupConnections.Start(args, root, CancellationToken.None);
        await connections.Started.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Null(connections.Take(fixture.Target("web"), Resolved(args)));
    }

    [Fact]
    public async Task A_server_at_another_address_is_not_taken()
    {
        var args = await ArgsAsync();
        using var connections = StartupConnections.Start(args, root, CancellationToken.None);
        await connections.Started.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Null(connections.Take(new DeployTarget("web", fixture.Server.Address, fixture.Server.Port + 1), Resolved(args)));
    }

    [Fact]
    public void Task_arguments_are_read_as_the_host_reads_them()
    {
        var arguments = StartupConnections.TaskArguments(["--target=Deploy", "--hosts", "a=1.2.3.4", "--plan", "--ssh-user=x=y", "-t", "Deploy", "--", "--server", "-v"]);

        Assert.Equal(["a=1.2.3.4"], arguments["hosts"]);
        Assert.Equal(["true"], arguments["plan"]);
        Assert.Equal(["x=y"], arguments["SSH-USER"]);
        Assert.Equal(["true"], arguments["server"]);
    }
}
