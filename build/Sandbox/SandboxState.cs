using System.Text.Json;
using System.Text.Json.Serialization;

namespace Build.Sandbox;

/// <summary>One sandbox server: its sshd and nginx ports, its remote root, and the daemons serving it.</summary>
public sealed record SandboxServer
{
    public required string Name { get; init; }
    public required string Address { get; init; }
    public required int SshPort { get; init; }
    public required int HttpPort { get; init; }
    public required string RemoteRoot { get; init; }
    public List<DaemonRecord> Daemons { get; init; } = [];

    [JsonIgnore]
    public string Url => $"http://{Address}:{HttpPort}/";
}

/// <summary>
/// What <c>.sandbox/sandbox.json</c> records: the login account, key, known_hosts, remote roots and
/// every daemon started, written after each start so that a crashed run still leaves the pids to stop.
/// Kept after SandboxStop (without daemons) so the next start reuses keys, ports and releases.
/// </summary>
public sealed record SandboxState
{
    public required string User { get; init; }
    public required string DeployKey { get; init; }
    public required string KnownHosts { get; init; }
    /// <summary>The deploy's <c>--remote-root</c>: <c>{server}</c> stands for the server name.</summary>
    public required string RemoteRoot { get; init; }
    /// <summary>Where the login account's files live (remote roots, authorized_keys, nginx's own files).</summary>
    public required string UserArea { get; init; }
    public List<SandboxServer> Servers { get; init; } = [];

    [JsonIgnore]
    public IEnumerable<DaemonRecord> Daemons => Servers.SelectMany(s => s.Daemons);

    /// <summary>Every daemon recorded is alive (and there is at least one per role and server).</summary>
    [JsonIgnore]
    public bool IsRunning => Servers.Count > 0 && Servers.All(s => s.Daemons.Count == 2) && Daemons.All(Build.Sandbox.Daemons.IsAlive);

    public static SandboxState? Load(string file)
    {
        if (!File.Exists(file)) return null;
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(file), SandboxJson.Default.SandboxState);
        }
        catch (JsonException)
        {
            return null; // a half-written file from a killed run: treated as no sandbox, and rewritten
        }
    }

    public void Save(string file)
    {
        // Written whole, then renamed: a reader never sees half a file.
        var temp = file + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(this, SandboxJson.Default.SandboxState));
        File.Move(temp, file, overwrite: true);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(SandboxState))]
internal sealed partial class SandboxJson : JsonSerializerContext;
