using Build.Deployment;
using Build.Settings;

namespace Build.Tailnet;

/// <summary>
/// Which servers a run works on: <c>--tags</c> (peers carrying them, named by the first label of
/// their MagicDNS name), or <c>--hosts</c> (explicit targets, no tailnet needed), then narrowed by
/// <c>--server</c>.
/// </summary>
public sealed record ServerSelection(IReadOnlyList<string> Servers, IReadOnlyList<string> Tags, IReadOnlyList<HostEntry> Hosts)
    : ISettingsGroup<ServerSelection>
{
    public static ServerSelection From(SettingsSource source) => new(ServerFilter(source), TagList(source), HostsFrom(source));

    /// <summary>With <c>--hosts</c> the servers are given: the tailnet is not asked.</summary>
    public bool UsesHosts => Hosts.Count > 0;

    /// <summary>The <c>--hosts</c> targets, narrowed by <c>--server</c>.</summary>
    public IReadOnlyList<DeployTarget> FromHosts() => FromHosts(Hosts, Servers);

    /// <summary>
    /// The tailnet's peers carrying the deploy tags, narrowed by <c>--server</c>.
    /// </summary>
    public IReadOnlyList<DeployTarget> FromStatus(TailnetStatus status) => FromStatus(status, Tags, Servers);

    /// <summary>
    /// FindServers: the <c>--hosts</c> targets as given, or the tailnet's tagged peers through the session
    /// JoinTailnet started; then <c>--server</c>.
    /// </summary>
    public async Task<IReadOnlyList<DeployTarget>> FindAsync(TailnetSession? session, CancellationToken cancellationToken) =>
        UsesHosts
            ? FromHosts()
            : await (session ?? throw new InvalidOperationException("JoinTailnet did not run.")).FindServersAsync(this, cancellationToken);

    /// <summary>
    /// Every selected server offline is an error (exit 2); some offline are a warning each: they are reported as failed.
    /// </summary>
    public static IReadOnlyList<DeployTarget> RequireOnline(IReadOnlyList<DeployTarget> targets, Action<string> warn)
    {
        var offline = targets.Where(t => !t.Online).ToArray();
        if (offline.Length > 0 && offline.Length == targets.Count)
            throw new SettingsException($"Every selected server is offline (unavailable): {string.Join(", ", offline.Select(t => t.Name))}. Start them or check their tailscaled, or pick others with --server.");
        foreach (var server in offline)
            warn($"Server {server.Name} ({server.Address}) is offline: unavailable, it will be reported as failed.");
        return targets;
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

    /// <summary><c>--hosts</c>: <c>name=address[:port],...</c>, validated.</summary>
    public static IReadOnlyList<HostEntry> HostsFrom(SettingsSource source)
    {
        var result = new List<HostEntry>();
        if (source.GetAll("hosts", "DEPLOY_HOSTS").Count == 0) return result;
        // With the address and port, where a host's deploy works: two entries on one place would
        // lock each other out (each is its own lock owner), so they are refused.
        var remoteRoot = DeploySettings.RemoteRootFrom(source);
        var sshPort = source.Get("ssh-port", "DEPLOY_SSH_PORT") is { } p ? Parse.Integer(p, 1, 65535) : 22;
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

    public static IReadOnlyList<DeployTarget> FromStatus(TailnetStatus status, IReadOnlyList<string> tags, IReadOnlyList<string> servers)
    {
        var wanted = tags.Select(TailscaleTag.Normalize).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var peers = status.Peers.ToArray();
        var targets = peers
            .Where(p => p.Tags is { } t && t.Any(wanted.Contains))
            .Select(ToTarget)
            .OfType<DeployTarget>()
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .ToArray();

        if (targets.Length == 0)
        {
            var existing = peers.SelectMany(p => p.Tags ?? []).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal).ToArray();
            var seen = existing.Length == 0
                ? $"no peer of the {peers.Length} visible carries any tag"
                : "tags that exist on visible peers: " + string.Join(", ", existing);
            throw new SettingsException(
                $"No peer on the tailnet carries the deploy tags {string.Join(", ", wanted)} ({seen}). " +
                "Fix --tags (or DEPLOY_TAGS / \"tags\" in deploy.json), or tag the servers, and check that the ACL lets tag:ci see them.");
        }
        return Filter(targets, servers);
    }

    public static IReadOnlyList<DeployTarget> FromHosts(IReadOnlyList<HostEntry> hosts, IReadOnlyList<string> servers) =>
        Filter(hosts.Select(h => new DeployTarget(h.Name, h.Address, h.Port)).ToArray(), servers);

    /// <summary>
    /// <c>--server</c>: each item matches a tag with or without <c>tag:</c>, the server name, the
    /// HostName, or the MagicDNS name with or without its trailing dot, case-insensitively. An item
    /// that names a server (name, HostName, MagicDNS name) means those servers; only otherwise is it
    /// read as a tag, so <c>--server=server1</c> is one server even where a tag is also called
    /// <c>tag:server1</c>. An item that matches nothing is an error listing the servers that exist.
    /// </summary>
    public static IReadOnlyList<DeployTarget> Filter(IReadOnlyList<DeployTarget> targets, IReadOnlyList<string> servers)
    {
        if (servers.Count == 0) return targets;
        var chosen = new HashSet<DeployTarget>();
        var unmatched = new List<string>();
        foreach (var item in servers)
        {
            var matches = targets.Where(t => NamesServer(t, item)).ToArray();
            if (matches.Length == 0) matches = targets.Where(t => NamesTag(t, item)).ToArray();
            if (matches.Length == 0) unmatched.Add(item);
            chosen.UnionWith(matches);
        }
        if (unmatched.Count > 0)
        {
            throw new SettingsException(
                $"--server {string.Join(", ", unmatched.Select(u => $"\"{u}\""))} matches no server. " +
                $"Servers that exist: {string.Join(", ", targets.Select(t => t.Name))}. " +
                "Give a server name, its host name, its MagicDNS name or one of its tags.");
        }
        return targets.Where(chosen.Contains).ToArray();
    }

    public static bool Matches(DeployTarget target, string item) => NamesServer(target, item) || NamesTag(target, item);

    private static bool NamesServer(DeployTarget target, string item)
    {
        var value = item.Trim();
        if (value.Length == 0 || value.StartsWith("tag:", StringComparison.OrdinalIgnoreCase)) return false;
        return Same(target.Name, value)
            || Same(target.HostName, value)
            || (target.DnsName is { } dns && Same(dns.TrimEnd('.'), value.TrimEnd('.')))
            || (target.HostName is null && target.DnsName is null && Same(target.Address, value));
    }

    private static bool NamesTag(DeployTarget target, string item)
    {
        var value = item.Trim();
        if (value.Length == 0) return false;
        return target.Tags.Any(t => Same(t, value) || Same(t, "tag:" + value));
    }

    private static bool Same(string? a, string b) => a is not null && string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private static DeployTarget? ToTarget(PeerStatus peer)
    {
        var name = peer.ServerName ?? (peer.HostName is { Length: > 0 } h ? DnsLabel.From(h) : null);
        var address = peer.IPv4 ?? peer.TailscaleIPs?.FirstOrDefault();
        if (name is null || address is null) return null;
        return new DeployTarget(name, address)
        {
            HostName = peer.HostName,
            DnsName = peer.DNSName,
            Tags = peer.Tags ?? [],
            // Unknown (absent) counts as online: the connection attempt then tells.
            Online = peer.Online ?? true,
        };
    }
}
