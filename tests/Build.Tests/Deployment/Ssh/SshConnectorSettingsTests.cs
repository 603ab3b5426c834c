using Build.Deployment;
using Build.Deployment.Ssh;
using Build.Settings;
using Build.Tailnet;

namespace Build.Tests.Deployment.Ssh;

/// <summary>From the settings contract to a connection: arguments, then secrets in the environment.</summary>
public sealed class SshConnectorSettingsTests(SshServerFixture fixture) : IClassFixture<SshServerFixture>
{
    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    private static (SshSettings Ssh, ServerSelection Selection) Resolve(Dictionary<string, string> arguments, Dictionary<string, string> environment)
    {
        var source = new SettingsSource(
            name => arguments.TryGetValue(name, out var v) ? [v] : [],
            name => environment.GetValueOrDefault(name),
            settingsFile: null);
        return (SshSettings.From(source), ServerSelection.From(source));
    }

    [Fact]
    public async Task Paths_from_arguments_user_and_port_from_settings()
    {
        var server = fixture.Server;
        var knownHosts = Path.Join(server.Directory, $"known_hosts_{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(knownHosts, server.KnownHostsLines());
        var settings = Resolve(new()
        {
            ["ssh-key"] = server.UserKey.PrivateKeyPath,
            ["known-hosts"] = knownHosts,
            ["ssh-user"] = server.UserName,
            ["ssh-port"] = server.Port.ToString(),
            ["hosts"] = $"web={server.Address}",
            ["connect-timeout"] = "15s",
        }, []);
        var host = Assert.Single(settings.Selection.Hosts);
        var connector = SshConnector.FromSettings(settings.Ssh);
        // No port on the target: the --ssh-port setting applies.
        using var connection = await connector.ConnectAsync(new DeployTarget(host.Name, host.Address, host.Port), Timeout());
        Assert.Equal(server.Port, connection.Client.ConnectionInfo.Port);
        Assert.Equal(server.UserName, connection.Client.ConnectionInfo.Username);
    }

    [Fact]
    public async Task Key_and_known_hosts_as_text_in_the_environment()
    {
        var server = fixture.Server;
        var settings = Resolve(new() { ["ssh-user"] = server.UserName, ["hosts"] = $"web={server.Address}:{server.Port}" }, new()
        {
            ["SSH_PRIVATE_KEY"] = server.UserKey.PrivateKeyText.Replace("\n", "\r\n").TrimEnd(),
            ["SSH_KNOWN_HOSTS"] = server.KnownHostsLines().Replace("\n", "\r\n"),
        });
        Assert.NotNull(settings.Ssh.Key.Text);
        var host = Assert.Single(settings.Selection.Hosts);
        using var connection = await SshConnector.FromSettings(settings.Ssh).ConnectAsync(new DeployTarget(host.Name, host.Address, host.Port), Timeout());
        Assert.True(connection.IsConnected);
    }

    [Fact]
    public void A_named_known_hosts_file_that_is_missing_is_a_settings_error_but_the_missing_default_is_empty()
    {
        var error = Assert.Throws<SettingsException>(() => SshConnector.LoadKnownHosts(new PathOrText("/nonexistent/known_hosts", null, "--known-hosts")));
        Assert.Contains("--known-hosts", error.Message);
        Assert.Contains("/nonexistent/known_hosts", error.Message);
        Assert.Equal(0, SshConnector.LoadKnownHosts(new PathOrText("/nonexistent/known_hosts", null, "default")).Count);
    }
}
