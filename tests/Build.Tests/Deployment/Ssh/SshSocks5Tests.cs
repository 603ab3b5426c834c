using System.Net;
using Build.Deployment;
using Build.Deployment.Ssh;
using TestHosts;
using Xunit.Abstractions;

namespace Build.Tests.Deployment.Ssh;

/// <summary>The tailnet's userspace mode: SSH goes through a SOCKS5 proxy that resolves MagicDNS names itself.</summary>
public sealed class SshSocks5Tests(SshServerFixture fixture, ITestOutputHelper output) : IClassFixture<SshServerFixture>
{
    private static CancellationToken Timeout(int seconds = 60) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Connects_through_socks5_by_a_name_only_the_proxy_can_resolve()
    {
        await using var socks = new Socks5Proxy();
        const string dns = "server1.tail-test.ts.net";
        socks.Names[dns] = IPAddress.Parse(fixture.Server.Address);
        var target = new DeployTarget("server1", dns, fixture.Server.Port) { DnsName = dns + "." };
        var knownHosts = fixture.Server.KnownHostsLines(host: "server1");
        var connector = fixture.Connector(knownHosts, socks5: new DnsEndPoint(socks.EndPoint.Address.ToString(), socks.EndPoint.Port));

        using var connection = await connector.ConnectAsync(target, Timeout());
        var result = await connection.Shell.RunAsync("echo via socks", [], null, Timeout());
        Assert.Equal("via socks\n", result.Output);
        Assert.Equal($"{dns}:{fixture.Server.Port}", Assert.Single(socks.Requests));
    }

    [Fact]
    public async Task A_socks_refusal_is_transient()
    {
        await using var socks = new Socks5Proxy(); // resolves nothing
        var connector = fixture.Connector(socks5: new DnsEndPoint(socks.EndPoint.Address.ToString(), socks.EndPoint.Port));
        var error = await Assert.ThrowsAnyAsync<Exception>(() => connector.ConnectAsync(new DeployTarget("gone", "gone.tail-test.ts.net", 22), Timeout()));
        output.WriteLine($"{error.GetType().FullName}: {error.Message}");
        Assert.True(SshErrors.IsTransient(error), error.ToString());
        Assert.Single(socks.Requests);
    }
}
