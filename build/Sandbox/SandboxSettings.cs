using Build.Settings;

namespace Build.Sandbox;

/// <summary>
/// <c>--sandbox</c> (<c>DEPLOY_SANDBOX</c>): point the deploy-side targets at the running local
/// sandbox. It supplies the settings a target needs to reach servers (hosts, key, known_hosts, user,
/// remote root, no tailnet) from <c>.sandbox/sandbox.json</c>, through the same settings the
/// production path reads; giving any of those as well is a contradiction (exit 2).
/// </summary>
public sealed record SandboxSettings(bool Enabled, string Origin)
{
    /// <summary>The settings the sandbox supplies; an argument for any of them alongside it is an error.</summary>
    public static readonly IReadOnlyList<string> Supplied = ["hosts", "ssh-key", "known-hosts", "tailnet", "ssh-user", "ssh-port", "remote-root"];

    public static SandboxSettings From(SettingsSource source) =>
        source.Get("sandbox", "DEPLOY_SANDBOX") is { } value
            ? new SandboxSettings(Parse.Flag(value), value.Origin)
            : new SandboxSettings(false, "default");

    /// <summary>
    /// The argument lookup with the sandbox's values in place of the supplied settings.
    /// <paramref name="why"/> names what asked for the sandbox (<c>--sandbox</c> or the Sandbox target) in errors.
    /// </summary>
    public static Func<string, IReadOnlyList<string>> Overlay(Func<string, IReadOnlyList<string>> arguments, SandboxState state, string why)
    {
        CheckNoClash(arguments, why);
        var values = new Dictionary<string, string>
        {
            ["hosts"] = string.Join(',', state.Servers.Select(s => $"{s.Name}={s.Address}:{s.SshPort}")),
            ["ssh-key"] = state.DeployKey,
            ["known-hosts"] = state.KnownHosts,
            ["tailnet"] = "off",
            ["ssh-user"] = state.User,
            ["remote-root"] = state.RemoteRoot,
            // Every server's nginx listens on the same port, each on its own address.
            ["health-url"] = $"http://{{host}}:{state.Servers.FirstOrDefault()?.HttpPort}/.well-known/release",
        };
        return name => values.TryGetValue(name, out var value) ? [value] : arguments(name);
    }

    /// <summary>Exit 2 when an argument gives a setting the sandbox supplies.</summary>
    public static void CheckNoClash(Func<string, IReadOnlyList<string>> arguments, string why)
    {
        if (Supplied.FirstOrDefault(name => arguments(name).Count > 0) is { } clash)
            throw new SettingsException($"--{clash} cannot be combined with {why}: the sandbox supplies its own hosts, key, known_hosts, user and remote root. Leave out --{clash}, or leave out {why} to deploy to real servers.");
    }

    /// <summary>The error for <c>--sandbox</c> with no sandbox running.</summary>
    public SettingsException NotRunning() =>
        new($"{Origin} asks for the local sandbox, but none is running. Start it with ./build.sh --target=Sandbox (it prints the servers' URLs), then run this again.");
}
