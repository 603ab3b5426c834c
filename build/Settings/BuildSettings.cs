namespace Build.Settings;

public enum TailnetMode { Auto, Join, Existing, Off }
public enum TunMode { Auto, Kernel, Userspace }
public enum SwitchMode { Together, Independent }

/// <summary>An explicit deploy target from <c>--hosts</c>.</summary>
public sealed record HostEntry(string Name, string Address, int? Port);

/// <summary>A value given as a path or as text (a GitLab File variable holds a path).</summary>
public sealed record PathOrText(string? Path, string? Text, string Origin)
{
    public string ReadText() => Text ?? File.ReadAllText(Path!);
}

/// <summary>
/// Every setting of the README's table, resolved once (argument, environment variable,
/// deploy.json, default) and validated. A bad value throws <see cref="SettingsException"/> (exit 2)
/// naming the setting and where its value came from.
/// </summary>
public sealed record BuildSettings
{
    public required IReadOnlyList<string> Servers { get; init; }
    public required IReadOnlyList<string> Tags { get; init; }
    public required IReadOnlyList<HostEntry> Hosts { get; init; }
    public required TailnetMode Tailnet { get; init; }
    public required string? SiteDir { get; init; }

    public required string SshUser { get; init; }
    public required int SshPort { get; init; }
    public required PathOrText SshKey { get; init; }
    public required string? SshKeyPassphrase { get; init; }
    public required PathOrText KnownHosts { get; init; }
    public required TimeSpan ConnectTimeout { get; init; }

    public required string RemoteRoot { get; init; }
    public required int KeepReleases { get; init; }
    public required int Parallel { get; init; }
    public required SwitchMode Switch { get; init; }
    public required bool Plan { get; init; }
    public required string? Release { get; init; }
    public required int Retries { get; init; }
    public required TimeSpan RetryDelay { get; init; }
    public required TimeSpan LockTimeout { get; init; }
    public required TimeSpan LockWait { get; init; }
    public required bool ForceUnlock { get; init; }

    public required SettingValue? TailscaleSecret { get; init; }
    public required string? OAuthClientId { get; init; }
    public required IReadOnlyList<string> TsTags { get; init; }
    /// <summary>Where TsTags came from when given on purpose (argument or variable), else null (deploy.json or default).</summary>
    public string? TsTagsGivenIn { get; init; }
    public required string TsHostname { get; init; }
    public required string? TsSocket { get; init; }
    public required int? TsPort { get; init; }
    public required TunMode TsTun { get; init; }
    public required TimeSpan TsTimeout { get; init; }
    public required TimeSpan TsReadyTimeout { get; init; }
    public required Uri TsApiUrl { get; init; }

    public static BuildSettings Resolve(SettingsSource source)
    {
        var env = source.Environment;
        string Text(string arg, string? variable, string fallback) => source.Get(arg, variable)?.Value ?? fallback;
        TimeSpan Duration(string arg, string? variable, string fallback, TimeSpan min, TimeSpan max) =>
            Parse.Duration(source.Get(arg, variable) ?? new SettingValue(fallback, "default"), min, max);
        var second = TimeSpan.FromSeconds(1);
        var day = TimeSpan.FromHours(24);
        int Integer(string arg, string? variable, int fallback, int min, int max) =>
            source.Get(arg, variable) is { } v ? Parse.Integer(v, min, max) : fallback;

        var tsTagValues = source.GetAll("ts-tags", "TS_TAGS");
        var tsTags = TailscaleTag.List(tsTagValues);
        return new BuildSettings
        {
            Servers = ServerFilter(source),
            Tags = TagList(source),
            Hosts = HostList(source, RemoteRootOf(source.Get("remote-root", "DEPLOY_ROOT") ?? new SettingValue("/var/www/blog", "default")),
                Integer("ssh-port", "DEPLOY_SSH_PORT", 22, 1, 65535)),
            Tailnet = source.Get("tailnet", "DEPLOY_TAILNET") is { } t ? Parse.Choice<TailnetMode>(t) : TailnetMode.Auto,
            SiteDir = source.Get("site-dir", "DEPLOY_SITE_DIR")?.Value is { Length: > 0 } d ? d : null,

            SshUser = Text("ssh-user", "DEPLOY_SSH_USER", "deploy"),
            SshPort = Integer("ssh-port", "DEPLOY_SSH_PORT", 22, 1, 65535),
            SshKey = PathOrSecret(source, "ssh-key", "SSH_PRIVATE_KEY", "~/.ssh/id_ed25519"),
            SshKeyPassphrase = source.Secret("SSH_KEY_PASSPHRASE")?.Value,
            KnownHosts = PathOrSecret(source, "known-hosts", "SSH_KNOWN_HOSTS", "~/.ssh/known_hosts"),
            ConnectTimeout = Duration("connect-timeout", "DEPLOY_CONNECT_TIMEOUT", "20s", second, day),

            RemoteRoot = RemoteRootOf(source.Get("remote-root", "DEPLOY_ROOT") ?? new SettingValue("/var/www/blog", "default")),
            KeepReleases = Integer("keep-releases", "DEPLOY_KEEP_RELEASES", 5, 1, 1000),
            Parallel = Integer("parallel", "DEPLOY_PARALLEL", 8, 1, 256),
            Switch = source.Get("switch", "DEPLOY_SWITCH") is { } s ? Parse.Choice<SwitchMode>(s) : SwitchMode.Together,
            Plan = source.Get("plan", "DEPLOY_PLAN") is { } p && Parse.Flag(p),
            Release = ReleaseOf(source.Get("release", "DEPLOY_RELEASE")),
            Retries = Integer("retries", "DEPLOY_RETRIES", 3, 1, 20),
            RetryDelay = Duration("retry-delay", "DEPLOY_RETRY_DELAY", "2s", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10)),
            LockTimeout = Duration("lock-timeout", "DEPLOY_LOCK_TIMEOUT", "2m", TimeSpan.FromSeconds(10), day),
            LockWait = Duration("lock-wait", "DEPLOY_LOCK_WAIT", "2m", TimeSpan.Zero, day),
            ForceUnlock = source.Get("force-unlock", "DEPLOY_FORCE_UNLOCK") is { } fu && Parse.Flag(fu),

            TailscaleSecret = source.Secret("TS_OAUTH_SECRET") ?? source.Secret("TS_AUTHKEY"),
            OAuthClientId = source.Secret("TS_OAUTH_CLIENT_ID")?.Value,
            TsTags = tsTags.Count > 0 ? tsTags : ["tag:ci"],
            // deploy.json's ts-tags configure OAuth joins; only an argument or a variable is someone asking for tags now.
            TsTagsGivenIn = tsTags.Count > 0 && tsTagValues is [var first, ..] && (first.Origin.StartsWith("--", StringComparison.Ordinal) || first.Origin.StartsWith("environment variable", StringComparison.Ordinal))
                ? first.Origin
                : null,
            TsHostname = source.Get("ts-hostname", "TS_HOSTNAME")?.Value ?? DefaultHostname(env),
            TsSocket = source.Get("ts-socket", "TS_SOCKET")?.Value is { Length: > 0 } sock ? sock : null,
            TsPort = source.Get("ts-port", "TS_PORT") is { } port ? Parse.Integer(port, 0, 65535) : null,
            TsTun = source.Get("ts-tun", "TS_TUN") is { } tun ? Parse.Choice<TunMode>(tun) : TunMode.Auto,
            TsTimeout = Duration("ts-timeout", "TS_TIMEOUT", "60s", second, day),
            TsReadyTimeout = Duration("ts-ready-timeout", "TS_READY_TIMEOUT", "15s", second, day),
            TsApiUrl = ApiUrl(source.Get("ts-api-url", "TS_API_URL") ?? new SettingValue("https://api.tailscale.com", "default")),
        };
    }

    private static IReadOnlyList<string> ServerFilter(SettingsSource source)
    {
        var values = source.GetAll("server", "DEPLOY_SERVERS");
        var list = Parse.List(values);
        // An empty value is a mistake (an unset CI variable), never "all servers".
        if (values.Count > 0 && list.Count == 0)
            throw Parse.Error(values[0], "empty", "Name the servers to deploy to (comma list), or leave the setting out to deploy to all tagged servers.");
        return list;
    }

    private static IReadOnlyList<string> TagList(SettingsSource source)
    {
        var values = source.GetAll("tags", "DEPLOY_TAGS");
        // A tag tailscale would refuse can mark no peer: say so now rather than "no server carries it".
        var list = TailscaleTag.List(values);
        if (values.Count > 0 && list.Count == 0)
            throw Parse.Error(values[0], "empty", "Give the tags that mark deploy targets, e.g. tag:server1,tag:server2.");
        return list.Count > 0 ? list : ["tag:server1", "tag:server2"];
    }

    /// <param name="remoteRoot">With the address and port, where a host's deploy works: two entries on one place would
    /// lock each other out (each is its own lock owner), so they are refused.</param>
    private static IReadOnlyList<HostEntry> HostList(SettingsSource source, string remoteRoot, int sshPort)
    {
        var result = new List<HostEntry>();
        foreach (var value in source.GetAll("hosts", "DEPLOY_HOSTS"))
        {
            foreach (var item in value.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var eq = item.IndexOf('=');
                if (eq <= 0 || eq == item.Length - 1)
                    throw Parse.Error(value, $"\"{item}\" is not name=address[:port]", "Write each host as name=address or name=address:port, comma separated.");
                var name = item[..eq].Trim();
                var address = item[(eq + 1)..].Trim();
                int? port = null;
                var colon = address.LastIndexOf(':');
                // [v6]:port, or v4/name:port; a bare IPv6 address has several colons and no port.
                if (address.StartsWith('[') && address.Contains("]:", StringComparison.Ordinal))
                {
                    var close = address.IndexOf("]:", StringComparison.Ordinal);
                    port = Port(address[(close + 2)..]);
                    address = address[1..close];
                }
                else if (colon > 0 && address.IndexOf(':') == colon)
                {
                    port = Port(address[(colon + 1)..]);
                    address = address[..colon];
                }
                int Port(string text) => int.TryParse(text, out var p) && p is >= 1 and <= 65535
                    ? p
                    : throw Parse.Error(value, $"\"{item}\" has a bad port", "Ports are numbers from 1 to 65535.");

                if (address.Length == 0 || Uri.CheckHostName(address) == UriHostNameType.Unknown)
                    throw Parse.Error(value, $"\"{item}\" has no valid host name or IP address", "Write each host as name=address or name=address:port, e.g. web=192.0.2.10:22 or web=web.example.com.");
                if (!ServerName.IsValid(name))
                    throw Parse.Error(value, $"\"{name}\" is not a valid server name", "Use letters, digits, '-', '_' or '.'.");
                if (result.Any(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)))
                    throw Parse.Error(value, $"server \"{name}\" is named twice", "Give each host a distinct name.");
                var root = remoteRoot.Replace("{server}", name.ToLowerInvariant(), StringComparison.Ordinal);
                if (result.FirstOrDefault(h => string.Equals(h.Address, address, StringComparison.OrdinalIgnoreCase) && (h.Port ?? sshPort) == (port ?? sshPort)
                        && remoteRoot.Replace("{server}", h.Name, StringComparison.Ordinal) == root) is { } same)
                    throw Parse.Error(value, $"\"{name}\" and \"{same.Name}\" are the same server ({address}, port {port ?? sshPort}) and the same directory ({root})",
                        "List each server once, or give --remote-root a {server} part so that each name deploys to its own directory.");
                result.Add(new HostEntry(name.ToLowerInvariant(), address, port));
            }
        }
        return result;
    }

    private static PathOrText PathOrSecret(SettingsSource source, string argument, string variable, string fallback)
    {
        // The argument (and deploy.json) may only name a path; the variable may hold a path or the text.
        var arg = source.GetAll(argument);
        if (arg.Count > 0) return new PathOrText(ExpandHome(arg[0].Value), null, arg[0].Origin);
        if (source.Secret(variable) is { } secret)
        {
            return Output.SecretValue.TryReadFile(secret.Value, out _)
                ? new PathOrText(secret.Value, null, secret.Origin)
                : new PathOrText(null, secret.Value, secret.Origin);
        }
        return new PathOrText(ExpandHome(fallback), null, "default");
    }

    public static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[1..])
            : path;

    private static string RemoteRootOf(SettingValue value) =>
        Deployment.RemoteRoot.Parse(value.Value, out var problem)?.Path
        ?? throw Parse.Error(value, problem!, "Give a plain absolute directory of its own, such as /var/www/blog (without ., .. or empty segments).");

    private static string? ReleaseOf(SettingValue? value)
    {
        if (value is null || value.Value.Length == 0) return null;
        if (Deployment.Release.ReleaseId.TryParse(value.Value) is null)
            throw Parse.Error(value, "not a release id", "Release ids look like 20261125T120000Z-1a2b3c4d; `--target=Releases` lists them.");
        return value.Value;
    }

    private static Uri ApiUrl(SettingValue value) =>
        Uri.TryCreate(value.Value, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http"
            ? uri
            : throw Parse.Error(value, "not an http(s) URL", "Give the API base such as https://api.tailscale.com.");

    private static string DefaultHostname(Func<string, string?> env)
    {
        var host = Environment.MachineName;
        return env("GITLAB_CI") == "true" ? $"gitlab-{host}" : $"ci-{host}";
    }
}
