using System.Net;

namespace Build.Tailnet.Policy;

/// <summary>Whether a rule applies: <see cref="Unknown"/> when it depends on something only the control plane knows (an address, a user's devices).</summary>
public enum Match { No, Yes, Unknown }

/// <summary>
/// Who sends: a tagged node (its tags), or a user (an e-mail, the groups and autogroups it is in).
/// A tagged node is in no group and no user's autogroup except <c>autogroup:tagged</c>.
/// </summary>
public sealed record Principal(IReadOnlySet<string> Tags, string? User, IReadOnlySet<string> Groups, IReadOnlySet<string> Autogroups)
{
    public static Principal Tagged(IEnumerable<string> tags) =>
        new(tags.ToHashSet(StringComparer.Ordinal), null, new HashSet<string>(), new HashSet<string>(StringComparer.Ordinal) { "autogroup:tagged" });
}

/// <summary>Where to: a tagged node, or a host (an alias of <c>hosts</c>, or an address).</summary>
public sealed record Target(IReadOnlySet<string> Tags, string? Host, string? Address)
{
    public static Target Tagged(params string[] tags) => new(tags.ToHashSet(StringComparer.Ordinal), null, null);
}

/// <summary>The answer for one source, destination and port, and the rules that gave it.</summary>
public sealed record Verdict(Match Match, IReadOnlyList<string> Rules);

/// <summary>
/// Evaluates a policy's network rules locally, for what can be known offline: tags, <c>group:</c> and
/// <c>autogroup:</c> names, users named in groups, <c>hosts</c> aliases and literal addresses, ports,
/// port ranges and <c>*</c>. Anything else is <see cref="Match.Unknown"/>, never a silent pass.
/// Tailscale's rules only accept (everything else is denied), so a connection is allowed when any rule allows it.
/// </summary>
public sealed class PolicyEvaluator(PolicyDocument policy)
{
    public PolicyDocument Policy { get; } = policy;

    public Verdict Allows(Principal source, Target target, int port, string protocol = "tcp")
    {
        var yes = new List<string>();
        var unknown = new List<string>();
        foreach (var rule in Policy.Rules)
        {
            var src = Best(rule.Sources.Select(s => SourceMatches(s, source)));
            if (src == Match.No) continue;
            var dst = Best(rule.Destinations.Where(d => d.AllowsPort(port, protocol)).Select(d => DestinationMatches(d.Selector, target)));
            var both = src == Match.Yes && dst == Match.Yes ? Match.Yes : dst == Match.No ? Match.No : Match.Unknown;
            if (both == Match.Yes) yes.Add(rule.Name);
            else if (both == Match.Unknown) unknown.Add(rule.Name);
        }
        return yes.Count > 0 ? new Verdict(Match.Yes, yes) : new Verdict(unknown.Count > 0 ? Match.Unknown : Match.No, unknown);
    }

    /// <summary>Does the rule's source <paramref name="selector"/> include <paramref name="who"/>?</summary>
    public Match SourceMatches(string selector, Principal who)
    {
        if (selector == "*") return Match.Yes;
        if (selector.StartsWith("tag:", StringComparison.Ordinal)) return Of(who.Tags.Contains(selector));
        if (selector.StartsWith("group:", StringComparison.Ordinal))
            return Of(who.Groups.Contains(selector) || (who.User is { } u && Members(selector).Contains(u, StringComparer.OrdinalIgnoreCase)));
        if (selector.StartsWith("autogroup:", StringComparison.Ordinal))
        {
            if (who.Autogroups.Contains(selector)) return Match.Yes;
            // A user's roles (admin, owner...) are the control plane's to know; a tagged node has none.
            return who.User is null && who.Tags.Count > 0 ? Match.No : selector is "autogroup:tagged" or "autogroup:member" ? Match.No : Match.Unknown;
        }
        if (selector.Contains('@')) return Of(who.User is { } user && string.Equals(user, selector, StringComparison.OrdinalIgnoreCase));
        // An address, a CIDR or a host alias as a source: which node has it is not known offline.
        return Match.Unknown;
    }

    /// <summary>Does the rule's destination <paramref name="selector"/> include <paramref name="target"/>?</summary>
    public Match DestinationMatches(string selector, Target target)
    {
        if (selector == "*") return Match.Yes;
        var tagged = target.Tags.Count > 0;
        if (selector.StartsWith("tag:", StringComparison.Ordinal)) return Of(target.Tags.Contains(selector));
        if (selector == "autogroup:tagged") return tagged ? Match.Yes : target.Host is not null || target.Address is not null ? Match.Unknown : Match.No;
        // autogroup:internet, autogroup:self, group:, users: a user's devices or exit traffic, never a tagged node.
        if (selector.StartsWith("autogroup:", StringComparison.Ordinal) || selector.StartsWith("group:", StringComparison.Ordinal) || selector.Contains('@'))
            return tagged ? Match.No : Match.Unknown;
        var address = Policy.Hosts.TryGetValue(selector, out var aliased) ? aliased : selector;
        if (!tagged)
        {
            if (target.Host is { } host && string.Equals(host, selector, StringComparison.Ordinal)) return Match.Yes;
            var targetAddress = target.Address ?? (target.Host is { } h && Policy.Hosts.TryGetValue(h, out var a) ? a : null);
            if (targetAddress is not null && AddressIn(targetAddress, address) is { } inside) return Of(inside);
        }
        // A tagged node's addresses are not known offline.
        return Match.Unknown;
    }

    private IReadOnlyList<string> Members(string group) => Policy.Groups.TryGetValue(group, out var members) ? members : [];

    /// <summary>Is <paramref name="address"/> (an IP) within <paramref name="range"/> (an IP or a CIDR)? Null when either is not an address.</summary>
    private static bool? AddressIn(string address, string range)
    {
        if (!IPAddress.TryParse(address.Split('/')[0], out var ip)) return null;
        if (IPNetwork.TryParse(range.Contains('/') ? range : range + (range.Contains(':') ? "/128" : "/32"), out var network)) return network.Contains(ip);
        return null;
    }

    private static Match Of(bool value) => value ? Match.Yes : Match.No;

    private static Match Best(IEnumerable<Match> matches)
    {
        var best = Match.No;
        foreach (var m in matches)
        {
            if (m == Match.Yes) return Match.Yes;
            if (m == Match.Unknown) best = Match.Unknown;
        }
        return best;
    }

    /// <summary>
    /// What <paramref name="source"/> can reach beyond <paramref name="allowed"/> tags on <paramref name="port"/>:
    /// each rule destination it may use that is not one of those tags on that port alone.
    /// </summary>
    public IReadOnlyList<(string Rule, string Destination, Match Match)> Beyond(Principal source, IReadOnlyCollection<string> allowed, int port)
    {
        var result = new List<(string, string, Match)>();
        foreach (var rule in Policy.Rules)
        {
            var src = Best(rule.Sources.Select(s => SourceMatches(s, source)));
            if (src == Match.No) continue;
            foreach (var destination in rule.Destinations)
            {
                var onlyTheSshPort = destination.Ports.All(p => p.Low == port && p.High == port);
                var onlyDeployTags = allowed.Contains(destination.Selector, StringComparer.Ordinal);
                if (!(onlyTheSshPort && onlyDeployTags)) result.Add((rule.Name, destination.Text, src));
            }
        }
        return result;
    }

    /// <summary>Who a test's <c>src</c> stands for; null when it cannot be known offline (an address, a host).</summary>
    public Principal? PrincipalOf(string source)
    {
        var none = new HashSet<string>(StringComparer.Ordinal);
        if (source.StartsWith("tag:", StringComparison.Ordinal)) return Principal.Tagged([source]);
        if (source.StartsWith("group:", StringComparison.Ordinal))
            return new Principal(none, null, new HashSet<string>(StringComparer.Ordinal) { source }, new HashSet<string>(StringComparer.Ordinal) { "autogroup:member" });
        if (source.StartsWith("autogroup:", StringComparison.Ordinal))
            return new Principal(none, null, none, new HashSet<string>(StringComparer.Ordinal) { source, "autogroup:member" });
        if (source.Contains('@'))
        {
            var groups = Policy.Groups.Where(g => g.Value.Contains(source, StringComparer.OrdinalIgnoreCase)).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
            return new Principal(none, source, groups, new HashSet<string>(StringComparer.Ordinal) { "autogroup:member" });
        }
        return null;
    }

    /// <summary>Which node a test's destination host names; null when not known offline (a user's devices).</summary>
    public Target? TargetOf(string selector)
    {
        if (selector.StartsWith("tag:", StringComparison.Ordinal)) return Target.Tagged(selector);
        if (Policy.Hosts.ContainsKey(selector)) return new Target(new HashSet<string>(), selector, null);
        if (IPAddress.TryParse(selector, out _)) return new Target(new HashSet<string>(), null, selector);
        return null;
    }
}
