namespace Build.Deployment;

/// <summary>
/// A server to deploy to: found by tag on the tailnet (FindServers) or given with <c>--hosts</c>.
/// <see cref="Name"/> is the server name used by <c>{server}</c>, reports and <c>--server=</c>.
/// </summary>
public sealed record DeployTarget(string Name, string Address, int? Port = null)
{
    /// <summary>The node's own host name (tailnet only).</summary>
    public string? HostName { get; init; }

    /// <summary>MagicDNS name with its trailing dot (tailnet only).</summary>
    public string? DnsName { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>An offline target is a failure for that server, reported as such.</summary>
    public bool Online { get; init; } = true;

    /// <summary>Names to look the host key up by in known_hosts (address, server name, MagicDNS name).</summary>
    public IEnumerable<string> KnownHostNames()
    {
        yield return Address;
        yield return Name;
        if (DnsName is { Length: > 0 } dns)
        {
            yield return dns.TrimEnd('.');
            yield return dns;
        }
    }
}
