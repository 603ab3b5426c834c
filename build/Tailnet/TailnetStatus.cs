using System.Text.Json;
using System.Text.Json.Serialization;

namespace Build.Tailnet;

/// <summary>
/// The parts of <c>tailscale status --json</c> (Tailscale's ipnstate.Status) the pipeline reads.
/// Unknown fields are ignored; <c>Peer</c>, <c>Tags</c> and <c>Online</c> may be absent or null.
/// </summary>
public sealed record TailnetStatus
{
    public string? Version { get; init; }
    public string? BackendState { get; init; }
    /// <summary>Whether the daemon uses a kernel TUN device; false in userspace networking (which mode its --tun list ended in).</summary>
    public bool? TUN { get; init; }
    public IReadOnlyList<string>? TailscaleIPs { get; init; }
    public PeerStatus? Self { get; init; }
    public string? MagicDNSSuffix { get; init; }
    public CurrentTailnet? CurrentTailnet { get; init; }
    public Dictionary<string, PeerStatus?>? Peer { get; init; }

    public bool IsRunning => BackendState == "Running";

    /// <summary>Peers in a stable order (by DNS name), nulls dropped.</summary>
    public IEnumerable<PeerStatus> Peers =>
        (Peer?.Values ?? Enumerable.Empty<PeerStatus?>()).OfType<PeerStatus>().OrderBy(p => p.DNSName, StringComparer.Ordinal);

    /// <summary>Parses the CLI's output; throws <see cref="JsonException"/> when it is not a status object.</summary>
    public static TailnetStatus Parse(string json)
    {
        var status = JsonSerializer.Deserialize(json, TailnetJson.Default.TailnetStatus)
            ?? throw new JsonException("status --json printed null");
        if (status.BackendState is null) throw new JsonException("status --json has no BackendState");
        return status;
    }

    public static bool TryParse(string json, out TailnetStatus? status)
    {
        try
        {
            status = Parse(json);
            return true;
        }
        catch (JsonException)
        {
            status = null;
            return false;
        }
    }
}

public sealed record PeerStatus
{
    public string? ID { get; init; }
    public string? PublicKey { get; init; }
    public string? HostName { get; init; }
    public string? DNSName { get; init; }
    public string? OS { get; init; }
    public IReadOnlyList<string>? TailscaleIPs { get; init; }
    public IReadOnlyList<string>? Tags { get; init; }
    public bool? Online { get; init; }
    public bool? Active { get; init; }

    /// <summary>First label of <c>DNSName</c>: unique in the tailnet, unlike <c>HostName</c>.</summary>
    public string? ServerName =>
        DNSName is { Length: > 0 } dns && dns.Split('.')[0] is { Length: > 0 } label ? label.ToLowerInvariant() : null;

    /// <summary>The first IPv4 address (Tailscale lists IPv4 first, then IPv6).</summary>
    public string? IPv4 => TailscaleIPs?.FirstOrDefault(ip => System.Net.IPAddress.TryParse(ip, out var a) && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
}

public sealed record CurrentTailnet
{
    public string? Name { get; init; }
    public string? MagicDNSSuffix { get; init; }
    public bool? MagicDNSEnabled { get; init; }
}

/// <summary>
/// What the pipeline records at join (artifacts/tailnet.json) for the fallback cleanup, which reads it
/// in a fresh container after the job's own daemon is gone; so reading is tolerant of missing fields.
/// </summary>
public sealed record TailnetRecord(
    [property: JsonPropertyName("hostname")] string? Hostname,
    [property: JsonPropertyName("node_id")] string? NodeId,
    [property: JsonPropertyName("tailnet")] string? Tailnet,
    [property: JsonPropertyName("joined_at")] DateTimeOffset? JoinedAt)
{
    public Task WriteAsync(string path, CancellationToken cancellationToken) =>
        Output.ArtifactFile.WriteAllTextAsync(path, JsonSerializer.Serialize(this, TailnetJson.Default.TailnetRecord), cancellationToken);

    public const string FileName = "tailnet.json";

    /// <summary>The record, or null when the file does not exist; throws <see cref="JsonException"/> for a file that is not one.</summary>
    public static TailnetRecord? Read(string path) =>
        File.Exists(path)
            ? JsonSerializer.Deserialize(File.ReadAllText(path), TailnetJson.Default.TailnetRecord) ?? throw new JsonException($"{path} holds null.")
            : null;

    /// <summary>How the node is named in messages.</summary>
    public override string ToString() => (Hostname, NodeId) switch
    {
        ({ } h, { } n) => $"{h} ({n})",
        ({ } h, null) => h,
        (null, { } n) => n,
        _ => "(unnamed node)",
    };
}

[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = false,
    WriteIndented = true,
    NumberHandling = JsonNumberHandling.AllowReadingFromString,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(TailnetStatus))]
[JsonSerializable(typeof(TailnetRecord))]
internal sealed partial class TailnetJson : JsonSerializerContext;
