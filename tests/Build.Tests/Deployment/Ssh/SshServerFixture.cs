using Build.Deployment;
using Build.Deployment.Ssh;
using Build.Settings;
using TestHosts;

namespace Build.Tests.Deployment.Ssh;

/// <summary>One real sshd for a test class (127.0.0.2, a free port, generated keys).</summary>
public sealed class SshServerFixture : IAsyncLifetime
{
    public SshServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await SshServer.StartAsync(new SshServerOptions { Address = "127.0.0.2" });

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public DeployTarget Target(string name = "server1") => new(name, Server.Address, Server.Port);

    public SshConnector Connector(string? knownHosts = null, UserKey? key = null, TimeSpan? connectTimeout = null, System.Net.DnsEndPoint? socks5 = null) =>
        new(SshPrivateKey.Load(new PathOrText((key ?? Server.UserKey).PrivateKeyPath, null, "--ssh-key"), (key ?? Server.UserKey).Passphrase),
            KnownHosts.Parse(knownHosts ?? Server.KnownHostsLines()),
            Server.UserName, 22, connectTimeout ?? TimeSpan.FromSeconds(15), socks5);
}
