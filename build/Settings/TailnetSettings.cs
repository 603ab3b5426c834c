namespace Build.Settings;

public enum TailnetMode { Auto, Join, Existing, Off }

public enum TunMode { Auto, Kernel, Userspace }

/// <summary>
/// How the pipeline gets onto the tailnet: <c>--tailnet</c>, the secret (<c>TS_OAUTH_SECRET</c>, else
/// <c>TS_AUTHKEY</c>), <c>--ts-tags</c>, <c>--ts-hostname</c>, <c>--ts-socket</c>, <c>--ts-port</c>,
/// <c>--ts-tun</c>, <c>--ts-timeout</c>, <c>--ts-ready-timeout</c>, and the join's retries.
/// </summary>
public sealed record TailnetSettings : ISettingsGroup<TailnetSettings>
{
    public required TailnetMode Mode { get; init; }
    public required SettingValue? Secret { get; init; }
    public required IReadOnlyList<string> Tags { get; init; }
    /// <summary>Where Tags came from when given on purpose (argument or variable), else null (deploy.json or default).</summary>
    public string? TagsGivenIn { get; init; }
    public required string Hostname { get; init; }
    public required string? Socket { get; init; }
    public required int? Port { get; init; }
    public required TunMode Tun { get; init; }
    public required TimeSpan Timeout { get; init; }
    public required TimeSpan ReadyTimeout { get; init; }
    public required RetrySettings Retry { get; init; }
    /// <summary><c>--hosts</c> is given: <c>auto</c> may fall back to off.</summary>
    public required bool HasHosts { get; init; }

    public static TailnetSettings From(SettingsSource source)
    {
        var env = source.Environment;
        TimeSpan Duration(string arg, string variable, string fallback) =>
            Parse.Duration(source.Get(arg, variable) ?? new SettingValue(fallback, "default"), TimeSpan.FromSeconds(1), TimeSpan.FromHours(24));

        var modeValue = source.Get("tailnet", "DEPLOY_TAILNET");
        var mode = modeValue is { } t ? Parse.Choice<TailnetMode>(t) : TailnetMode.Auto;
        var secret = source.Secret("TS_OAUTH_SECRET") ?? source.Secret("TS_AUTHKEY");
        var hasHosts = Tailnet.ServerSelection.HostsFrom(source).Count > 0;
        // Checked here rather than when JoinTailnet runs, which is after the site build.
        if (mode == TailnetMode.Off && !hasHosts)
            throw new SettingsException($"{modeValue!.Origin} = off: without the tailnet the servers must come from --hosts=name=address[:port],... (or DEPLOY_HOSTS).");
        if (mode == TailnetMode.Join && secret is null)
            throw new SettingsException($"{modeValue!.Origin} = join needs a secret: set TS_OAUTH_SECRET to an OAuth client secret (tskey-client-..., scope auth_keys, tag tag:ci) or TS_AUTHKEY to an auth key.");

        var tagValues = source.GetAll("ts-tags", "TS_TAGS");
        var tags = TailscaleTag.List(tagValues);
        return new TailnetSettings
        {
            Mode = mode,
            Secret = secret,
            Tags = tags.Count > 0 ? tags : ["tag:ci"],
            // deploy.json's ts-tags configure OAuth joins; only an argument or a variable is someone asking for tags now.
            TagsGivenIn = tags.Count > 0 && tagValues is [var first, ..] && (first.Origin.StartsWith("--", StringComparison.Ordinal) || first.Origin.StartsWith("environment variable", StringComparison.Ordinal))
                ? first.Origin
                : null,
            Hostname = source.Get("ts-hostname", "TS_HOSTNAME")?.Value ?? DefaultHostname(env),
            Socket = source.Get("ts-socket", "TS_SOCKET")?.Value is { Length: > 0 } sock ? sock : null,
            Port = source.Get("ts-port", "TS_PORT") is { } port ? Parse.Integer(port, 0, 65535) : null,
            Tun = source.Get("ts-tun", "TS_TUN") is { } tun ? Parse.Choice<TunMode>(tun) : TunMode.Auto,
            Timeout = Duration("ts-timeout", "TS_TIMEOUT", "60s"),
            ReadyTimeout = Duration("ts-ready-timeout", "TS_READY_TIMEOUT", "15s"),
            Retry = RetrySettings.From(source),
            HasHosts = hasHosts,
        };
    }

    private static string DefaultHostname(Func<string, string?> env)
    {
        var host = System.Environment.MachineName;
        return env("GITLAB_CI") == "true" ? $"gitlab-{host}" : $"ci-{host}";
    }
}
