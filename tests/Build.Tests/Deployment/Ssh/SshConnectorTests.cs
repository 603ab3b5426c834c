using System.Diagnostics;
using System.Security.Cryptography;
using Build.Deployment;
using Build.Deployment.Ssh;
using Build.Settings;
using Renci.SshNet.Common;
using TestHosts;
using Xunit.Abstractions;

namespace Build.Tests.Deployment.Ssh;

public sealed class SshConnectorTests(SshServerFixture fixture, ITestOutputHelper output) : IClassFixture<SshServerFixture>
{
    private SshServer Server => fixture.Server;
    private static CancellationToken Timeout(int seconds = 60) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Connects_with_a_known_host_and_an_ed25519_key_and_runs_a_command()
    {
        using var connection = await fixture.Connector().ConnectAsync(fixture.Target(), Timeout());
        Assert.True(connection.IsConnected);
        var result = await connection.Shell.RunAsync("id -un", [], null, Timeout());
        Assert.Equal(0, result.ExitStatus);
        Assert.Equal(Server.UserName, result.Output.Trim());
        // The fingerprint SSH.NET saw is the one of a host key the fixture generated.
        Assert.Contains(connection.HostKeyFingerprint, Server.HostKeys.Select(k => KnownHosts.FingerprintSha256(k.Blob)));
        Assert.Equal("aes128-gcm@openssh.com", connection.Client.ConnectionInfo.CurrentClientEncryption);
    }

    [Fact]
    public async Task Unknown_host_fails_with_fingerprint_and_the_line_to_add_and_is_not_transient()
    {
        var error = await Assert.ThrowsAsync<SshPermanentException>(() => fixture.Connector(knownHosts: "").ConnectAsync(fixture.Target(), Timeout()));
        Assert.Equal(SshFailureKind.HostUnknown, error.Kind);
        Assert.False(SshErrors.IsTransient(error));
        // Nothing is known, so the server's preferred key (ed25519) is presented.
        var key = Server.HostKeys.Single(k => k.Type == "ssh-ed25519");
        Assert.Contains("SHA256:" + KnownHosts.FingerprintSha256(key.Blob), error.Message);
        var line = $"[{Server.Address}]:{Server.Port} ssh-ed25519 {key.Base64}";
        Assert.Contains(line, error.Message);
        // ssh-keygen agrees on the fingerprint.
        var pub = Path.Join(Server.Directory, "ssh_host_ed25519_key.pub");
        var printed = (await LocalProcess.RunAsync("ssh-keygen", ["-lf", pub])).EnsureSuccess("ssh-keygen -lf").Output;
        Assert.Contains("SHA256:" + KnownHosts.FingerprintSha256(key.Blob) + " ", printed);

        // Adding exactly that line makes the host known.
        using var connection = await fixture.Connector(knownHosts: line + "\n").ConnectAsync(fixture.Target(), Timeout());
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public async Task Wrong_host_key_is_a_mismatch_and_not_transient()
    {
        var stranger = await Server.CreateUserKeyAsync("ed25519", authorize: false); // any ed25519 key not the server's
        var knownHosts = $"[{Server.Address}]:{Server.Port} {stranger.PublicKey}\n";
        var error = await Assert.ThrowsAsync<SshPermanentException>(() => fixture.Connector(knownHosts).ConnectAsync(fixture.Target(), Timeout()));
        Assert.Equal(SshFailureKind.HostKeyMismatch, error.Kind);
        Assert.Contains("HOST KEY MISMATCH", error.Message);
        Assert.False(SshErrors.IsTransient(error));
    }

    [Fact]
    public async Task Known_key_type_the_server_does_not_have_is_a_mismatch()
    {
        // known_hosts says ECDSA; the server only has ed25519 and RSA keys: never fall back to an unknown type.
        var ecdsa = await Server.CreateUserKeyAsync("ecdsa", authorize: false);
        var knownHosts = $"[{Server.Address}]:{Server.Port} {ecdsa.PublicKey}\n";
        var error = await Assert.ThrowsAsync<SshPermanentException>(() => fixture.Connector(knownHosts).ConnectAsync(fixture.Target(), Timeout()));
        output.WriteLine(error.Message);
        Assert.Equal(SshFailureKind.HostKeyMismatch, error.Kind);
        Assert.Contains("ecdsa-sha2-nistp256", error.Message);
        Assert.False(SshErrors.IsTransient(error));
    }

    [Fact]
    public async Task Revoked_host_key_is_refused()
    {
        var ed = Server.HostKeys.Single(k => k.Type == "ssh-ed25519");
        // Only the ed25519 key is listed, and it is revoked: nothing else may stand in for it.
        var knownHosts = Server.KnownHostsLines(types: ["ssh-ed25519"]) + $"@revoked * {ed}\n";
        var error = await Assert.ThrowsAsync<SshPermanentException>(() => fixture.Connector(knownHosts).ConnectAsync(fixture.Target(), Timeout()));
        Assert.Equal(SshFailureKind.HostKeyRevoked, error.Kind);
        Assert.False(SshErrors.IsTransient(error));
    }

    [Fact]
    public async Task Only_an_rsa_entry_known_offers_rsa_and_trusts_the_rsa_sha2_512_key()
    {
        // The server prefers ed25519; offering only RSA algorithms makes it present the known key.
        var knownHosts = Server.KnownHostsLines(types: ["ssh-rsa"]);
        Assert.DoesNotContain("ssh-ed25519", knownHosts);
        using var connection = await fixture.Connector(knownHosts).ConnectAsync(fixture.Target(), Timeout());
        Assert.StartsWith("rsa-sha2-", connection.Client.ConnectionInfo.CurrentHostKeyAlgorithm);
        Assert.Equal(KnownHosts.FingerprintSha256(Server.HostKeys.Single(k => k.Type == "ssh-rsa").Blob), connection.HostKeyFingerprint);
    }

    [Fact]
    public async Task Host_known_by_its_server_name_in_a_hashed_entry_is_trusted()
    {
        var file = Path.Join(Server.Directory, $"known_hosts_{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(file, Server.KnownHostsLines(host: "web-1"));
        (await LocalProcess.RunAsync("ssh-keygen", ["-H", "-f", file])).EnsureSuccess("ssh-keygen -H");
        var hashed = await File.ReadAllTextAsync(file);
        Assert.DoesNotContain("web-1", hashed);
        using var connection = await fixture.Connector(hashed).ConnectAsync(fixture.Target("web-1"), Timeout());
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public async Task Wrong_user_key_is_an_authentication_failure_and_not_transient()
    {
        var unauthorized = await Server.CreateUserKeyAsync("ed25519", authorize: false);
        var error = await Assert.ThrowsAsync<SshPermanentException>(() => fixture.Connector(key: unauthorized).ConnectAsync(fixture.Target(), Timeout()));
        Assert.Equal(SshFailureKind.AuthenticationFailed, error.Kind);
        Assert.Contains(Server.UserName, error.Message);
        Assert.Contains("authorized_keys", error.Message);
        Assert.False(SshErrors.IsTransient(error));
    }

    [Fact]
    public async Task Rsa_user_key_logs_in()
    {
        var rsa = await Server.CreateUserKeyAsync("rsa");
        Assert.Contains("BEGIN OPENSSH PRIVATE KEY", rsa.PrivateKeyText);
        using var connection = await fixture.Connector(key: rsa).ConnectAsync(fixture.Target(), Timeout());
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public async Task Key_given_as_text_with_crlf_and_no_final_newline_logs_in()
    {
        var text = Server.UserKey.PrivateKeyText.Replace("\n", "\r\n").TrimEnd();
        Assert.False(text.EndsWith('\n'));
        var key = SshPrivateKey.Load(new PathOrText(null, text, "SSH_PRIVATE_KEY"), null);
        var connector = new SshConnector(key, KnownHosts.Parse(Server.KnownHostsLines()), Server.UserName, 22, TimeSpan.FromSeconds(15));
        using var connection = await connector.ConnectAsync(fixture.Target(), Timeout());
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public async Task Passphrase_protected_key_needs_its_passphrase()
    {
        var key = await Server.CreateUserKeyAsync("ed25519", passphrase: "correct horse");
        var source = new PathOrText(key.PrivateKeyPath, null, "--ssh-key");

        var missing = Assert.Throws<SettingsException>(() => SshPrivateKey.Load(source, null));
        Assert.Contains("SSH_KEY_PASSPHRASE", missing.Message);
        var wrong = Assert.Throws<SettingsException>(() => SshPrivateKey.Load(source, "wrong"));
        Assert.Contains("SSH_KEY_PASSPHRASE", wrong.Message);

        using var connection = await fixture.Connector(key: key).ConnectAsync(fixture.Target(), Timeout());
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public void A_missing_key_file_or_non_key_text_is_a_settings_error_without_the_text()
    {
        var missing = Assert.Throws<SettingsException>(() => SshPrivateKey.Load(new PathOrText("/nonexistent/id_ed25519", null, "--ssh-key"), null));
        Assert.Contains("/nonexistent/id_ed25519", missing.Message);
        var notKey = Assert.Throws<SettingsException>(() => SshPrivateKey.Load(new PathOrText(null, "s3cr3t-not-a-key", "SSH_PRIVATE_KEY"), null));
        Assert.Contains("SSH_PRIVATE_KEY", notKey.Message);
        Assert.DoesNotContain("s3cr3t", notKey.Message);
        Assert.Equal(ExitCodes.BadSettings, notKey.ExitCode);
    }

    [Fact]
    public async Task Refused_connection_is_transient()
    {
        // A port nothing listens on: probe one and close it again.
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Parse(Server.Address), 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => fixture.Connector().ConnectAsync(new DeployTarget("down", Server.Address, port), Timeout()));
        output.WriteLine($"{error.GetType().Name}: {error.Message}");
        Assert.True(SshErrors.IsTransient(error), error.ToString());
    }

    [Fact]
    public async Task Connect_is_bounded_by_the_connect_timeout_and_that_is_transient()
    {
        // The proxy holds the server's banner back far longer than the connect timeout.
        await using var proxy = new TcpProxy(Server.EndPoint, oneWayDelay: TimeSpan.FromSeconds(30));
        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<SshConnectTimeoutException>(() =>
            fixture.Connector(Server.KnownHostsLines(proxy.Address).Replace($"]:{Server.Port}", $"]:{proxy.Port}"), connectTimeout: TimeSpan.FromMilliseconds(800))
                .ConnectAsync(new DeployTarget("slow", proxy.Address, proxy.Port), Timeout()));
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(700), TimeSpan.FromSeconds(10));
        Assert.Contains("--connect-timeout", error.Message);
        Assert.True(SshErrors.IsTransient(error));
    }

    [Fact]
    public async Task Cancellation_stops_the_connect_and_is_not_transient()
    {
        await using var proxy = new TcpProxy(Server.EndPoint, oneWayDelay: TimeSpan.FromSeconds(30));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            fixture.Connector().ConnectAsync(new DeployTarget("slow", proxy.Address, proxy.Port), cancel.Token));
        Assert.False(SshErrors.IsTransient(error));
    }

    [Fact]
    public async Task Connects_through_a_proxy_with_latency()
    {
        await using var proxy = new TcpProxy(Server.EndPoint, oneWayDelay: TimeSpan.FromMilliseconds(20));
        // Known by the server name, so the proxy's address and port need no entry of their own.
        var knownHosts = Server.KnownHostsLines(host: "server1").Replace($"]:{Server.Port}", $"]:{proxy.Port}");
        var watch = Stopwatch.StartNew();
        using var connection = await fixture.Connector(knownHosts).ConnectAsync(new DeployTarget("server1", proxy.Address, proxy.Port), Timeout());
        var connect = watch.Elapsed;
        var result = await connection.Shell.RunAsync("echo ok", [], null, Timeout());
        output.WriteLine($"connect through 40 ms RTT: {connect.TotalMilliseconds:0} ms; upstream {proxy.BytesUpstream} B, downstream {proxy.BytesDownstream} B");
        Assert.Equal("ok\n", result.Output);
        // Several round trips at least (banner, kex, auth): the latency is really there.
        Assert.True(connect >= TimeSpan.FromMilliseconds(120), $"connect took {connect}");
        Assert.Equal(1, proxy.Connections);
    }

    [Fact]
    public async Task A_cut_connection_surfaces_as_a_transient_error()
    {
        await using var proxy = new TcpProxy(Server.EndPoint);
        var knownHosts = Server.KnownHostsLines(host: "server1").Replace($"]:{Server.Port}", $"]:{proxy.Port}");
        using var connection = await fixture.Connector(knownHosts).ConnectAsync(new DeployTarget("server1", proxy.Address, proxy.Port), Timeout());
        var cut = proxy.CutOnceAfter(2 * 1024 * 1024);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => connection.Shell.RunAsync("cat > /dev/null", [],
            async (stdin, ct) =>
            {
                var block = new byte[64 * 1024];
                for (var i = 0; i < 1024; i++) await stdin.WriteAsync(block, ct); // 64 MB: the cut comes first
            }, Timeout()));
        await cut;
        output.WriteLine($"{error.GetType().FullName}: {error.Message}");
        Assert.True(SshErrors.IsTransient(error), error.ToString());
        Assert.Equal(1, proxy.Cuts);
    }

    [Fact]
    public async Task A_connection_cut_while_the_remote_command_runs_quietly_fails_fast_and_transient()
    {
        await using var proxy = new TcpProxy(Server.EndPoint);
        var knownHosts = Server.KnownHostsLines(host: "server1").Replace($"]:{Server.Port}", $"]:{proxy.Port}");
        using var connection = await fixture.Connector(knownHosts).ConnectAsync(new DeployTarget("server1", proxy.Address, proxy.Port), Timeout());
        var root = await Server.CreateRemoteRootAsync($"quiet-{Guid.NewGuid():N}");
        var marker = Path.Join(root, "started");
        var watch = Stopwatch.StartNew();
        var run = connection.Shell.RunAsync("touch \"$1\"; sleep 60", [marker], null, Timeout(120));
        while (!File.Exists(marker)) await Task.Delay(20, Timeout());
        proxy.CutAll();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => run);
        output.WriteLine($"{error.GetType().FullName}: {error.Message} after {watch.Elapsed.TotalSeconds:0.0}s");
        Assert.True(SshErrors.IsTransient(error), error.ToString());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }
}
