using Build.Deployment;
using Build.Settings;

namespace Build.Tailnet;

/// <summary>
/// Turns the tailnet's peers (or <c>--hosts</c>) into deploy targets: peers carrying one of the
/// deploy tags, named by the first label of their MagicDNS name, then narrowed by <c>--server</c>.
/// </summary>
public static class ServerSelection
{
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
