using System.Text.Json;
using System.Text.Json.Serialization;

namespace Build.Tailnet.Api;

/// <summary>
/// <c>artifacts/tailnet.json</c>, written when the job joins the tailnet (Build.Tailnet.TailnetRecord), read here tolerantly:
/// <c>{"hostname", "node_id" (may be absent or null), "tailnet", "joined_at"}</c>.
/// The fallback cleanup reads it in a fresh container, after the job's own daemon is gone.
/// </summary>
public sealed record JoinRecord
{
    [JsonPropertyName("hostname")] public string? Hostname { get; init; }
    [JsonPropertyName("node_id")] public string? NodeId { get; init; }
    [JsonPropertyName("tailnet")] public string? Tailnet { get; init; }
    [JsonPropertyName("joined_at")] public DateTimeOffset? JoinedAt { get; init; }

    public const string FileName = "tailnet.json";

    /// <summary>The record, or null when the file does not exist. Throws <see cref="JsonException"/> or <see cref="IOException"/> for a file that cannot be read.</summary>
    public static JoinRecord? Read(string path)
    {
        if (!File.Exists(path)) return null;
        return JsonSerializer.Deserialize<JoinRecord>(File.ReadAllText(path))
            ?? throw new JsonException($"{path} holds null.");
    }

    /// <summary>How the node is named in messages.</summary>
    public override string ToString() => (Hostname, NodeId) switch
    {
        ({ } h, { } n) => $"{h} ({n})",
        ({ } h, null) => h,
        (null, { } n) => n,
        _ => "(unnamed node)",
    };
}
