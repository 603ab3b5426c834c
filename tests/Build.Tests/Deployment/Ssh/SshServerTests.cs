using TestHosts;

namespace Build.Tests.Deployment.Ssh;

public sealed class SshServerTests(SshServerFixture fixture) : IClassFixture<SshServerFixture>
{
    private SshServer Server => fixture.Server;

    [Fact]
    public async Task Logs_in_an_unprivileged_user_when_root_and_permission_errors_are_real()
    {
        Assert.True(Server.IsRunning);
        var who = await Server.RunAsUserAsync("id -un");
        Assert.Equal(Server.UserName, who.Output.Trim());
        if (!Server.RunsAsRoot) return; // as a normal user it logs in as that user; nothing more to check
        Assert.Equal("deploytest", Server.UserName);
        var denied = await Server.RunAsUserAsync("mkdir \"$1\"", ["/root/deploytest-should-not-exist"]);
        Assert.NotEqual(0, denied.ExitCode);
        Assert.Contains("Permission denied", denied.Error);
    }

    [Fact]
    public async Task Remote_root_is_owned_and_writable_by_the_login_user()
    {
        var root = await Server.CreateRemoteRootAsync($"root-{Guid.NewGuid():N}");
        var result = await Server.RunAsUserAsync("touch \"$1/file\" && stat -c %U \"$1\" \"$1/file\"", [root]);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"{Server.UserName}\n{Server.UserName}\n", result.Output);
    }

    [Fact]
    public async Task Several_servers_run_at_once_and_a_stopped_one_can_be_restarted()
    {
        await using var second = await SshServer.StartAsync(new SshServerOptions { Address = "127.0.0.3" });
        Assert.NotEqual(Server.HostKeys[0], second.HostKeys[0]);
        Assert.Equal("127.0.0.3", second.Address);
        var port = second.Port;
        await second.StopAsync();
        Assert.False(second.IsRunning);
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(async () =>
        {
            using var client = new System.Net.Sockets.TcpClient();
            await client.ConnectAsync(second.EndPoint);
        });
        await second.RestartAsync();
        Assert.True(second.IsRunning);
        Assert.Equal(port, second.Port);
        using var probe = new System.Net.Sockets.TcpClient();
        await probe.ConnectAsync(second.EndPoint);
        Assert.Contains("Server listening on 127.0.0.3", second.Log);
    }

    [Fact]
    public void Known_hosts_lines_name_the_address_and_port()
    {
        var lines = Server.KnownHostsLines().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.StartsWith($"[{Server.Address}]:{Server.Port} ", l));
        Assert.Contains(lines, l => l.Contains(" ssh-ed25519 "));
        Assert.Contains(lines, l => l.Contains(" ssh-rsa "));
        Assert.DoesNotContain("PRIVATE", Server.KnownHostsLines());
    }
}
