namespace Build.Settings;

/// <summary>
/// How the pipeline logs in to servers: <c>--ssh-user</c>, <c>--ssh-port</c>, <c>--ssh-key</c> (and
/// <c>SSH_KEY_PASSPHRASE</c>), <c>--known-hosts</c>, <c>--connect-timeout</c>. A key or known_hosts
/// file named on purpose must exist; a missing default known_hosts counts as empty (see SshConnector).
/// </summary>
public sealed record SshSettings : ISettingsGroup<SshSettings>
{
    public required string User { get; init; }
    public required int Port { get; init; }
    public required PathOrText Key { get; init; }
    public required string? KeyPassphrase { get; init; }
    public required PathOrText KnownHosts { get; init; }
    public required TimeSpan ConnectTimeout { get; init; }

    public static SshSettings From(SettingsSource source)
    {
        var key = PathOrText.From(source, "ssh-key", "SSH_PRIVATE_KEY", "~/.ssh/id_ed25519");
        if (key is { IsExplicit: true, Path: { } keyPath } && !File.Exists(keyPath))
            throw new SettingsException($"{key.Origin}: the SSH private key file {keyPath} does not exist. Give the deploy key's path with --ssh-key, or its text or path in SSH_PRIVATE_KEY.");
        var knownHosts = PathOrText.From(source, "known-hosts", "SSH_KNOWN_HOSTS", "~/.ssh/known_hosts");
        if (knownHosts is { IsExplicit: true, Path: { } hostsPath } && !File.Exists(hostsPath))
            throw new SettingsException($"{knownHosts.Origin}: the known_hosts file {hostsPath} does not exist. "
                + "Give the path of a known_hosts file holding the servers' host keys with --known-hosts, or its text in SSH_KNOWN_HOSTS.");
        return new SshSettings
        {
            User = source.Get("ssh-user", "DEPLOY_SSH_USER")?.Value ?? "deploy",
            Port = source.Get("ssh-port", "DEPLOY_SSH_PORT") is { } port ? Parse.Integer(port, 1, 65535) : 22,
            Key = key,
            KeyPassphrase = source.Secret("SSH_KEY_PASSPHRASE")?.Value,
            KnownHosts = knownHosts,
            ConnectTimeout = Parse.Duration(source.Get("connect-timeout", "DEPLOY_CONNECT_TIMEOUT") ?? new SettingValue("20s", "default"),
                TimeSpan.FromSeconds(1), TimeSpan.FromHours(24)),
        };
    }
}
