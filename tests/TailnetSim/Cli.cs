using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace TailnetSim;

/// <summary>The <c>tailscale</c> CLI side: global flags before the verb, then one request to the daemon.</summary>
internal static class Cli
{
    private static readonly HashSet<string> Booleans = ["json", "accept-routes", "reset", "force-reauth", "ssh"];
    private static readonly string[] KnownAttributes = ["ephemeral", "preauthorized", "baseURL"];

    public static async Task<int> RunAsync(string[] args)
    {
        Record.Write("cli", new JsonObject { ["argv"] = Record.Array(args), ["secret_vars"] = Record.SecretVariablesPresent() });
        var global = Flags.Parse(args, Booleans, stopAtPositional: true);
        if (global.Positional.Count == 0)
        {
            Console.Error.WriteLine("tailscale: missing subcommand");
            return 2;
        }
        var verb = global.Positional[0];
        var flags = Flags.Parse(global.Positional.Skip(1).ToArray(), Booleans, stopAtPositional: false);
        var socket = global["socket"] ?? Environment.GetEnvironmentVariable("TSSIM_DEFAULT_SOCKET") ?? "/var/run/tailscale/tailscaled.sock";
        return verb switch
        {
            "status" => await SendAsync(socket, new JsonObject { ["verb"] = "status" }, Timeout.InfiniteTimeSpan),
            "logout" => await SendAsync(socket, new JsonObject { ["verb"] = "logout" }, Timeout.InfiniteTimeSpan),
            "up" => await UpAsync(socket, flags),
            "version" => Print("1.76.1-sim"),
            _ => Fail($"tailscale: unknown subcommand \"{verb}\""),
        };
    }

    private static async Task<int> UpAsync(string socket, Flags flags)
    {
        var authKey = flags["auth-key"] ?? flags["authkey"] ?? "";
        var request = new JsonObject { ["verb"] = "up", ["hostname"] = flags["hostname"] };
        var tags = (flags["advertise-tags"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < tags.Length; i++)
        {
            // As tailscale's up: a tag without a colon gets "tag:", then tailcfg.CheckTag.
            if (!tags[i].Contains(':')) tags[i] = "tag:" + tags[i];
            if (CheckTag(tags[i]) is { } problem) return Fail($"tag: \"{tags[i]}\": {problem}");
        }
        request["tags"] = Record.Array(tags);

        string key;
        if (authKey.StartsWith("file:", StringComparison.Ordinal))
        {
            var path = authKey[5..];
            try
            {
                key = File.ReadAllText(path).Trim();
            }
            catch (IOException e)
            {
                return Fail($"reading auth key file {path}: {e.Message}");
            }
            request["key_file"] = path;
            request["key_file_mode"] = Convert.ToString((int)File.GetUnixFileMode(path), 8);
        }
        else
        {
            key = authKey;
            request["key_file"] = null;
        }

        var query = key.IndexOf('?');
        var bare = query < 0 ? key : key[..query];
        request["key_sha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(bare)));
        if (key.StartsWith("tskey-client-", StringComparison.Ordinal))
        {
            // As tailscale's OAuth key resolution: known attributes only, tags required.
            var attributes = query < 0 ? "" : key[(query + 1)..];
            foreach (var pair in attributes.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var name = pair.Split('=')[0];
                if (!KnownAttributes.Contains(name)) return Fail($"unknown attribute \"{name}\"");
            }
            if (tags.Length == 0) return Fail("oauth authkeys require --advertise-tags");
            request["key_kind"] = "client";
            request["key_attributes"] = attributes;
        }
        else if (key.StartsWith("tskey-auth-", StringComparison.Ordinal) && query < 0)
        {
            request["key_kind"] = "auth";
        }
        else
        {
            return Fail("backend error: invalid key: API key does not exist");
        }
        var timeout = Flags.Duration(flags["timeout"], Timeout.InfiniteTimeSpan);
        return await SendAsync(socket, request, timeout);
    }

    /// <summary>tailcfg.CheckTag's rules and messages.</summary>
    private static string? CheckTag(string tag)
    {
        if (!tag.StartsWith("tag:", StringComparison.Ordinal)) return "tags must start with 'tag:'";
        var name = tag[4..];
        if (name.Length == 0) return "tag names must not be empty";
        if (!char.IsAsciiLetter(name[0])) return "tag names must start with a letter, after 'tag:'";
        return name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') ? null : "tag names can only contain numbers, letters, or dashes";
    }

    private static async Task<int> SendAsync(string socket, JsonObject request, TimeSpan timeout)
    {
        using var connection = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await connection.ConnectAsync(new UnixDomainSocketEndPoint(socket));
        }
        catch (SocketException)
        {
            return Fail("failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)");
        }
        using var stream = new NetworkStream(connection, ownsSocket: false);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToJsonString() + "\n"));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? line;
        try
        {
            using var bound = new CancellationTokenSource(timeout);
            line = await reader.ReadLineAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            return Fail("timeout waiting for Tailscale service to enter a Running state; last state: NeedsLogin");
        }
        if (line is null) return Fail("failed to connect to local tailscaled (connection closed)");
        var reply = JsonNode.Parse(line)!.AsObject();
        Console.Out.Write((string?)reply["stdout"]);
        Console.Error.Write((string?)reply["stderr"]);
        return (int)reply["exit"]!;
    }

    private static int Print(string text)
    {
        Console.WriteLine(text);
        return 0;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 1;
    }
}
