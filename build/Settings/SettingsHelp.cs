namespace Build.Settings;

/// <summary>
/// What <c>--help</c> adds to the host's usage: the pipeline's settings by group, and where their full
/// rows are (README.md, "Settings": environment variable, deploy.json key, default and range).
/// </summary>
public static class SettingsHelp
{
    public const string Text = """

        Pipeline settings (argument, else environment variable, else deploy.json, else default;
        the full table with variables, defaults and ranges is in README.md, section "Settings"):
          site           --site-dir
          server choice  --server  --tags  --hosts
          tailnet        --tailnet  --ts-tags  --ts-hostname  --ts-socket  --ts-port  --ts-tun
                         --ts-timeout  --ts-ready-timeout   (secret: TS_OAUTH_SECRET or TS_AUTHKEY)
          SSH            --ssh-user  --ssh-port  --ssh-key  --known-hosts  --connect-timeout
                         (secrets: SSH_PRIVATE_KEY, SSH_KNOWN_HOSTS, SSH_KEY_PASSPHRASE)
          deploy         --remote-root  --keep-releases  --parallel  --switch  --plan  --release
                         --retries  --retry-delay  --lock-timeout  --lock-wait  --force-unlock
          health         --release-marker  --health-url  --health-timeout  --health-host  --health-path
                         --on-unhealthy
          sandbox        --sandbox
          Tailscale API  --ts-api-url   (secrets: TS_OAUTH_SECRET, TS_OAUTH_CLIENT_ID)
          policy         --policy-file  --policy-strict  --policy-force
                         (secrets: TS_POLICY_OAUTH_SECRET, TS_POLICY_OAUTH_CLIENT_ID)
        Exit codes: 0 success, 1 a task failed, 2 bad settings or input (nothing ran or changed),
        3 some servers failed, 130/143 interrupted by SIGINT/SIGTERM (the teardown ran).
        """;

    public static bool Asked(IEnumerable<string> args) =>
        args.Any(a => a is "--help" or "-h" or "-?" || a.StartsWith("--help=", StringComparison.Ordinal));
}
