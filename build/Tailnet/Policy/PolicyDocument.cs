using System.Text.Json;

namespace Build.Tailnet.Policy;

/// <summary>Inclusive port range; <c>*</c> is 0-65535.</summary>
public readonly record struct PortRange(int Low, int High)
{
    public static readonly PortRange Any = new(0, 65535);

    public bool Contains(int port) => port >= Low && port <= High;

    public override string ToString() => this == Any ? "*" : Low == High ? $"{Low}" : $"{Low}-{High}";
}

/// <summary>
/// Where a rule lets traffic go: a selector (<c>tag:x</c>, <c>*</c>, <c>group:g</c>, a host alias, an IP...),
/// its ports, and the protocol (null: any, as in an ACL without <c>proto</c>).
/// </summary>
public sealed record RuleDestination(string Selector, IReadOnlyList<PortRange> Ports, string? Protocol, string Text)
{
    public bool AllowsPort(int port, string protocol) =>
        (Protocol is null || string.Equals(Protocol, protocol, StringComparison.OrdinalIgnoreCase)) && Ports.Any(p => p.Contains(port));
}

/// <summary>One <c>acls</c> or <c>grants</c> entry, normalized: both say "these sources reach these destinations".</summary>
public sealed record NetworkRule(string Name, IReadOnlyList<string> Sources, IReadOnlyList<RuleDestination> Destinations);

/// <summary>One entry of the policy's <c>tests</c>.</summary>
public sealed record PolicyTest(string Name, string Source, IReadOnlyList<string> Accept, IReadOnlyList<string> Deny, string Protocol);

/// <summary>
/// The parts of a tailnet policy file this pipeline reads (Tailscale's policy syntax, kb/1337 and kb/1324):
/// <c>tagOwners</c>, <c>groups</c>, <c>hosts</c>, <c>acls</c> (<c>action</c>/<c>src</c>/<c>dst</c> "target:ports",
/// or the legacy <c>users</c>/<c>ports</c>), <c>grants</c> (<c>src</c>/<c>dst</c>/<c>ip</c>) and <c>tests</c>.
/// Structural problems are collected in <see cref="Problems"/> rather than thrown, so that one run reports all.
/// </summary>
public sealed class PolicyDocument
{
    private PolicyDocument(JsonElement root, string source)
    {
        Root = root;
        Source = source;
    }

    public JsonElement Root { get; }
    public string Source { get; }
    public Dictionary<string, IReadOnlyList<string>> TagOwners { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, IReadOnlyList<string>> Groups { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Hosts { get; } = new(StringComparer.Ordinal);
    public List<NetworkRule> Rules { get; } = [];
    public List<PolicyTest> Tests { get; } = [];
    public List<string> Problems { get; } = [];

    /// <summary>The canonical content: equal for two files that differ only in comments and layout.</summary>
    public string Canonical => HuJson.Canonical(Root);

    public static PolicyDocument Read(string path)
    {
        if (!File.Exists(path))
            throw new Settings.SettingsException($"The policy file {path} does not exist. Give it with --policy-file (or TS_POLICY_FILE); the repository keeps it in tailnet/policy.hujson.");
        return Parse(File.ReadAllText(path), path);
    }

    public static PolicyDocument Parse(string text, string source)
    {
        using var json = HuJson.Parse(text, source);
        // Cloned so the document outlives the parser's buffers.
        var root = json.RootElement.Clone();
        if (root.ValueKind != JsonValueKind.Object)
            throw new HuJsonException(source, 1, 1, "a policy file is a JSON object ({ ... }).");
        var document = new PolicyDocument(root, source);
        document.Load();
        return document;
    }

    private void Load()
    {
        ReadMap("tagOwners", TagOwners);
        ReadMap("groups", Groups);
        if (Root.TryGetProperty("hosts", out var hosts))
        {
            if (hosts.ValueKind != JsonValueKind.Object) Problems.Add("\"hosts\" must be an object of name: address.");
            else foreach (var host in hosts.EnumerateObject())
                if (host.Value.ValueKind == JsonValueKind.String) Hosts[host.Name] = host.Value.GetString()!;
        }
        var index = 0;
        foreach (var acl in Array("acls"))
        {
            var name = $"acls[{index++}]";
            var action = Text(acl, "action");
            if (!string.Equals(action, "accept", StringComparison.Ordinal))
            {
                Problems.Add($"{name}: action is \"{action}\"; Tailscale only accepts \"accept\".");
                continue;
            }
            // src/dst, or the older users/ports that Tailscale still accepts.
            var sources = Strings(acl, "src", name) ?? Strings(acl, "users", name) ?? [];
            var targets = Strings(acl, "dst", name) ?? Strings(acl, "ports", name) ?? [];
            var protocol = Text(acl, "proto");
            if (sources.Count == 0) Problems.Add($"{name}: no \"src\".");
            if (targets.Count == 0) Problems.Add($"{name}: no \"dst\".");
            var destinations = new List<RuleDestination>();
            foreach (var target in targets)
            {
                if (PolicyNames.SplitTargetPorts(target) is not var (selector, portText) || PolicyNames.ParsePorts(portText) is not { } ports)
                {
                    Problems.Add($"{name}: destination \"{target}\" is not target:ports (ports a number, a list such as 22,80, a range such as 1000-2000, or *).");
                    continue;
                }
                destinations.Add(new RuleDestination(selector, ports, string.IsNullOrEmpty(protocol) ? null : PolicyNames.Protocol(protocol), target));
            }
            Rules.Add(new NetworkRule(name, sources, destinations));
        }
        index = 0;
        foreach (var grant in Array("grants"))
        {
            var name = $"grants[{index++}]";
            var sources = Strings(grant, "src", name) ?? [];
            var selectors = Strings(grant, "dst", name) ?? [];
            if (sources.Count == 0) Problems.Add($"{name}: no \"src\".");
            if (selectors.Count == 0) Problems.Add($"{name}: no \"dst\".");
            // A grant without "ip" grants application capabilities only, no network access.
            var destinations = new List<RuleDestination>();
            foreach (var ip in Strings(grant, "ip", name) ?? [])
            {
                if (PolicyNames.ParseGrantIp(ip) is not var (protocol, ports))
                {
                    Problems.Add($"{name}: ip \"{ip}\" is not [proto:]ports (e.g. tcp:22, 443, tcp:1000-2000, *).");
                    continue;
                }
                foreach (var selector in selectors)
                    destinations.Add(new RuleDestination(selector, ports, protocol, $"{selector} {ip}"));
            }
            Rules.Add(new NetworkRule(name, sources, destinations));
        }
        index = 0;
        foreach (var test in Array("tests"))
        {
            var name = $"tests[{index++}]";
            var source = Text(test, "src");
            if (string.IsNullOrEmpty(source))
            {
                Problems.Add($"{name}: no \"src\".");
                continue;
            }
            Tests.Add(new PolicyTest(name, source, Strings(test, "accept", name) ?? [], Strings(test, "deny", name) ?? [],
                Text(test, "proto") is { Length: > 0 } p ? PolicyNames.Protocol(p) : "tcp"));
        }
    }

    private void ReadMap(string property, Dictionary<string, IReadOnlyList<string>> into)
    {
        if (!Root.TryGetProperty(property, out var map)) return;
        if (map.ValueKind != JsonValueKind.Object)
        {
            Problems.Add($"\"{property}\" must be an object.");
            return;
        }
        foreach (var entry in map.EnumerateObject())
            into[entry.Name] = Strings(map, entry.Name, $"{property}[\"{entry.Name}\"]") ?? [];
    }

    private IEnumerable<JsonElement> Array(string property)
    {
        if (!Root.TryGetProperty(property, out var array)) return [];
        if (array.ValueKind == JsonValueKind.Array) return array.EnumerateArray().ToArray();
        Problems.Add($"\"{property}\" must be an array.");
        return [];
    }

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => value.GetRawText(),
            _ => null,
        } : null;

    private IReadOnlyList<string>? Strings(JsonElement element, string property, string name)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(property, out var value)) return null;
        if (value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String))
            return value.EnumerateArray().Select(v => v.GetString()!).ToArray();
        Problems.Add($"{name}: \"{property}\" must be a list of strings.");
        return [];
    }
}

/// <summary>The small grammar of policy names, ports and protocols.</summary>
public static class PolicyNames
{
    /// <summary>
    /// <c>tag:x:22</c> → (<c>tag:x</c>, <c>22</c>): the ports follow the last colon, since selectors hold
    /// colons themselves. A bracketed IPv6 address (<c>[fd7a::1]:22</c>) keeps its brackets' content.
    /// </summary>
    public static (string Selector, string Ports)? SplitTargetPorts(string target)
    {
        if (target.StartsWith('[') && target.IndexOf("]:", StringComparison.Ordinal) is var close and > 0)
            return (target[1..close], target[(close + 2)..]);
        var colon = target.LastIndexOf(':');
        return colon <= 0 || colon == target.Length - 1 ? null : (target[..colon], target[(colon + 1)..]);
    }

    /// <summary><c>22</c>, <c>22,80</c>, <c>1000-2000</c>, <c>*</c>; null when not ports.</summary>
    public static IReadOnlyList<PortRange>? ParsePorts(string text)
    {
        var ranges = new List<PortRange>();
        foreach (var item in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (item == "*") ranges.Add(PortRange.Any);
            else if (item.Split('-') is [var low, var high] && Port(low) is { } l && Port(high) is { } h && l <= h) ranges.Add(new PortRange(l, h));
            else if (Port(item) is { } p) ranges.Add(new PortRange(p, p));
            else return null;
        }
        return ranges.Count == 0 ? null : ranges;
    }

    /// <summary>A grant's <c>ip</c> entry: <c>*</c>, <c>22</c>, <c>tcp:22</c>, <c>tcp:*</c>, <c>udp:1000-2000</c>, <c>icmp:*</c>.</summary>
    public static (string? Protocol, IReadOnlyList<PortRange> Ports)? ParseGrantIp(string text)
    {
        if (text == "*") return (null, [PortRange.Any]);
        var colon = text.IndexOf(':');
        var protocol = colon > 0 ? Protocol(text[..colon]) : null;
        var ports = ParsePorts(colon > 0 ? text[(colon + 1)..] : text);
        // "icmp" alone (no ports) names the protocol only.
        if (ports is null && colon < 0 && !text.Any(char.IsDigit)) return (Protocol(text), [PortRange.Any]);
        return ports is null ? null : (protocol, ports);
    }

    /// <summary>Protocol names as Tailscale takes them: a name or an IANA number (6 is tcp, 17 udp).</summary>
    public static string Protocol(string text) => text.Trim().ToLowerInvariant() switch
    {
        "6" => "tcp",
        "17" => "udp",
        "1" => "icmp",
        var other => other,
    };

    private static int? Port(string text) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) && p is >= 0 and <= 65535 ? p : null;
}
