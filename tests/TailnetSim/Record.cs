using System.Text;
using System.Text.Json.Nodes;

namespace TailnetSim;

/// <summary>Appends one JSON line per event to <c>TSSIM_RECORD</c> (one write per line: O_APPEND keeps lines whole).</summary>
internal static class Record
{
    private static readonly string[] SecretVariables = ["TS_OAUTH_SECRET", "TS_AUTHKEY", "TS_OAUTH_CLIENT_ID", "SSH_PRIVATE_KEY", "SSH_KEY_PASSPHRASE"];

    public static void Write(string @event, JsonObject? fields = null)
    {
        var path = Environment.GetEnvironmentVariable("TSSIM_RECORD");
        if (string.IsNullOrEmpty(path)) return;
        var line = fields ?? new JsonObject();
        line["event"] = @event;
        line["pid"] = Environment.ProcessId;
        line["time"] = DateTimeOffset.UtcNow.ToString("O");
        var bytes = Encoding.UTF8.GetBytes(line.ToJsonString() + "\n");
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        stream.Write(bytes);
    }

    public static JsonArray Array(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    /// <summary>Names of secret variables present in this process's environment (never their values).</summary>
    public static JsonArray SecretVariablesPresent() =>
        Array(SecretVariables.Where(v => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(v))));
}
