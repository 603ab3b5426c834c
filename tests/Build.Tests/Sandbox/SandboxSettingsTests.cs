using Build.Tailnet;
using Build.Sandbox;
using Build.Settings;

namespace Build.Tests.Sandbox;

/// <summary>--sandbox: read like any flag, and the settings it supplies from the running sandbox's state.</summary>
public sealed class SandboxSettingsTests
{
    private static SettingsSource Source(Dictionary<string, string[]> arguments, Dictionary<string, string>? environment = null) =>
        new(name => arguments.TryGetValue(name, out var v) ? v : [], name => environment?.GetValueOrDefault(name), settingsFile: null);

    private static readonly SandboxState State = new()
    {
        User = "deploytest", DeployKey = "/repo/.sandbox/deploy_key", KnownHosts = "/repo/.sandbox/known_hosts",
        RemoteRoot = "/repo/.sandbox/account/{server}/www", UserArea = "/repo/.sandbox/account",
        Servers =
        [
            new SandboxServer { Name = "server1", Address = "127.0.0.2", SshPort = 40001, HttpPort = 40100, RemoteRoot = "/r1" },
            new SandboxServer { Name = "server2", Address = "127.0.0.3", SshPort = 40002, HttpPort = 40100, RemoteRoot = "/r2" },
        ],
    };

    [Fact]
    public void The_flag_comes_from_the_argument_or_DEPLOY_SANDBOX_and_a_bad_value_names_it()
    {
        Assert.True(SandboxSettings.From(Source(new() { ["sandbox"] = [""] })).Enabled);
        Assert.False(SandboxSettings.From(Source([])).Enabled);
        Assert.True(SandboxSettings.From(Source([], new() { ["DEPLOY_SANDBOX"] = "true" })).Enabled);
        var bad = Assert.Throws<SettingsException>(() => SandboxSettings.From(Source(new() { ["sandbox"] = ["maybe"] })));
        Assert.Contains("--sandbox", bad.Message);
    }

    [Fact]
    public void The_overlay_supplies_hosts_key_known_hosts_user_root_and_no_tailnet_and_resolves_through_the_normal_settings()
    {
        // The SSH settings check that the key and known_hosts files exist: the sandbox's are real files.
        using var dir = new Build.Tests.Support.TempDir("sandbox-settings");
        var state = State with { DeployKey = Path.Join(dir.Path, "deploy_key"), KnownHosts = Path.Join(dir.Path, "known_hosts") };
        File.WriteAllText(state.DeployKey, "key");
        File.WriteAllText(state.KnownHosts, "");
        var arguments = new Dictionary<string, string[]> { ["server"] = ["server2"] };
        var overlay = SandboxSettings.Overlay(name => arguments.TryGetValue(name, out var v) ? v : [], state, "--sandbox");
        var source = new SettingsSource(overlay, _ => null, settingsFile: null);
        var selection = ServerSelection.From(source);
        var ssh = SshSettings.From(source);

        Assert.Equal([new HostEntry("server1", "127.0.0.2", 40001), new HostEntry("server2", "127.0.0.3", 40002)], selection.Hosts);
        Assert.Equal(TailnetMode.Off, TailnetSettings.From(source).Mode);
        Assert.Equal("deploytest", ssh.User);
        Assert.Equal(state.DeployKey, ssh.Key.Path);
        Assert.Equal(state.KnownHosts, ssh.KnownHosts.Path);
        Assert.Equal("/repo/.sandbox/account/{server}/www", DeploySettings.From(source).RemoteRoot);
        Assert.Equal(["server2"], selection.Servers); // what the sandbox does not supply passes through
        Assert.Equal(["http://{host}:40100/.well-known/release"], overlay("health-url"));
    }

    [Theory]
    [InlineData("hosts")]
    [InlineData("ssh-key")]
    [InlineData("known-hosts")]
    [InlineData("tailnet")]
    public void A_setting_the_sandbox_supplies_given_as_well_is_a_settings_error(string name)
    {
        var failure = Assert.Throws<SettingsException>(() =>
            SandboxSettings.Overlay(n => n == name ? ["x"] : [], State, "--sandbox"));
        Assert.StartsWith($"--{name} cannot be combined with --sandbox", failure.Message);
    }
}
