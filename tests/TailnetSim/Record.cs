using System.Runtime.InteropServices;
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
        // FileMode.Append only seeks to the end; several processes appending at once need O_APPEND.
        var fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0x1A4 /* 0644 */);
        if (fd < 0) throw new IOException($"cannot open {path}: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (write(fd, bytes, bytes.Length) != bytes.Length) throw new IOException($"short write to {path}");
        }
        finally
        {
            _ = close(fd);
        }
    }

    private const int O_WRONLY = 0x1;
    private const int O_CREAT = 0x40;
    private const int O_APPEND = 0x400;

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

    [DllImport("libc", SetLastError = true)]
    private static extern nint write(int fd, byte[] buffer, nint count);

    [DllImport("libc")]
    private static extern int close(int fd);

    public static JsonArray Array(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    /// <summary>Names of secret variables present in this process's environment (never their values).</summary>
    public static JsonArray SecretVariablesPresent() =>
        Array(SecretVariables.Where(v => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(v))));
}
