using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;

namespace TailnetSim;

/// <summary>The <c>tailscaled</c> side: a unix socket answering one JSON request line per connection.</summary>
internal sealed class Daemon
{
    private static readonly HashSet<string> Booleans = ["no-logs-no-support", "verbose"];

    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly string _selfId = "nSIM" + Convert.ToHexString(Guid.NewGuid().ToByteArray())[..8];
    private readonly bool _userspace;
    private string _state;
    private string _hostname = Environment.MachineName.ToLowerInvariant();
    private JsonArray? _tags;
    private int _upCalls;

    private Daemon(bool userspace)
    {
        _userspace = userspace;
        _state = Env("TSSIM_START_RUNNING") == "1" ? "Running" : "NeedsLogin";
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var flags = Flags.Parse(args, Booleans, stopAtPositional: false);
        Record.Write("daemon-start", new JsonObject
        {
            ["argv"] = Record.Array(args),
            ["path"] = Environment.GetEnvironmentVariable("PATH"),
            ["firewall_mode"] = Environment.GetEnvironmentVariable("TS_DEBUG_FIREWALL_MODE"),
            ["secret_vars"] = Record.SecretVariablesPresent(),
        });
        Console.WriteLine("logtail started");
        Console.WriteLine("Program starting: v1.76.1-sim, Go 1.23: " + string.Join(' ', args));
        // Like createEngine: each name of the --tun list in turn, the first that works wins.
        bool? userspace = null;
        foreach (var name in (flags["tun"] ?? "tailscale0").Split(','))
        {
            Console.Error.WriteLine($"wgengine.NewUserspaceEngine(tun \"{name}\") ...");
            if (name == "userspace-networking")
            {
                userspace = true;
                break;
            }
            if (KernelTunError(name) is not { } error)
            {
                userspace = false;
                break;
            }
            Console.Error.WriteLine($"wgengine.NewUserspaceEngine(tun \"{name}\") error: {error}");
        }
        if (userspace is null)
        {
            Console.Error.WriteLine("createEngine: no usable --tun device");
            Record.Write("daemon-exit", new JsonObject { ["reason"] = "tun-error" });
            return 1;
        }
        var socket = flags["socket"] ?? Env("TSSIM_DEFAULT_SOCKET") ?? "/var/run/tailscale/tailscaled.sock";
        if (flags["state"] != "mem:") Console.WriteLine($"state: {flags["state"]} (not in memory)");
        return await new Daemon(userspace.Value).ServeAsync(socket, flags["socks5-server"]);
    }

    /// <summary>
    /// The kernel TUN device's failure as tailscaled logs it, or null when it works:
    /// <c>TSSIM_TUN_ERROR=1</c> no /dev/net/tun, <c>=permission</c> the device without CAP_NET_ADMIN.
    /// </summary>
    private static string? KernelTunError(string name) => Env("TSSIM_TUN_ERROR") switch
    {
        "1" or "missing" => $"tstun.New(\"{name}\"): CreateTUN(\"{name}\") failed; /dev/net/tun does not exist",
        "permission" => $"tstun.New(\"{name}\"): open /dev/net/tun: operation not permitted",
        _ => null,
    };

    private async Task<int> ServeAsync(string socketPath, string? socks5)
    {
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        if (int.TryParse(Env("TSSIM_SOCKET_DELAY_MS"), out var delay) && delay > 0)
        {
            try
            {
                await Task.Delay(delay, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return 0;
            }
        }

        Socks5Relay? relay = null;
        // tailscaled serves SOCKS5 in either mode; only in userspace mode is it the only way in.
        if (socks5 is { Length: > 0 })
        {
            relay = new Socks5Relay(IPEndPoint.Parse(socks5));
            relay.Start(_stop.Token);
            Console.WriteLine($"SOCKS5 server listening on {socks5}");
        }

        // Like tailscaled: a stale socket file is removed before listening.
        File.Delete(socketPath);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(64);
        Console.WriteLine($"tailscaled listening on {socketPath} ({(_userspace ? "userspace-networking" : "tun tailscale0")})");
        Record.Write("listening", new JsonObject { ["socket"] = socketPath, ["userspace"] = _userspace, ["socks5"] = socks5 });

        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            _ = Task.Run(() => HandleAsync(connection));
        }
        relay?.Stop();
        File.Delete(socketPath);
        Console.WriteLine("tailscaled stopped");
        Record.Write("daemon-exit", new JsonObject { ["reason"] = "signal" });
        return 0;
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        var name = context.Signal == PosixSignal.SIGTERM ? "sigterm" : "sigint";
        if (context.Signal == PosixSignal.SIGTERM && Env("TSSIM_IGNORE_SIGTERM") == "1")
        {
            Record.Write(name + "-ignored");
            return;
        }
        // A graceful stop of a mem: node logs it out, as tailscaled does.
        lock (_gate) _state = "Stopped";
        Record.Write(name);
        _stop.Cancel();
    }

    private async Task HandleAsync(Socket connection)
    {
        using var stream = new NetworkStream(connection, ownsSocket: true);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var line = await reader.ReadLineAsync();
        if (line is null) return;
        var request = JsonNode.Parse(line)!.AsObject();
        var reply = (string?)request["verb"] switch
        {
            "status" => Reply(0, Status().ToJsonString(new() { WriteIndented = true }) + "\n", ""),
            "up" => await UpAsync(request),
            "logout" => Logout(),
            var verb => Reply(1, "", $"unknown verb {verb}\n"),
        };
        if (reply is null) return;
        var bytes = Encoding.UTF8.GetBytes(reply.ToJsonString() + "\n");
        await stream.WriteAsync(bytes);
    }

    private async Task<JsonObject?> UpAsync(JsonObject request)
    {
        int call;
        lock (_gate) call = ++_upCalls;
        var record = new JsonObject
        {
            ["attempt"] = call,
            ["hostname"] = (string?)request["hostname"],
            ["tags"] = request["tags"]?.DeepClone(),
            ["key_kind"] = (string?)request["key_kind"],
            ["key_attributes"] = (string?)request["key_attributes"],
            ["key_sha256"] = (string?)request["key_sha256"],
            ["key_file"] = (string?)request["key_file"],
            ["key_file_mode"] = (string?)request["key_file_mode"],
        };
        if (Env("TSSIM_UP_HANG") == "1")
        {
            record["result"] = "hang";
            Record.Write("up", record);
            // Never answers: the CLI's --timeout, or a signal, ends it.
            try
            {
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
            return null;
        }
        if (int.TryParse(Env("TSSIM_UP_TRANSIENT_FAILURES"), out var failures) && call <= failures)
        {
            record["result"] = "transient";
            Record.Write("up", record);
            return Reply(1, "", "backend error: Post \"https://controlplane.tailscale.com/machine/register\": dial tcp 192.0.2.10:443: i/o timeout\n");
        }
        if (Env("TSSIM_UP_PERMANENT") == "tags")
        {
            record["result"] = "permanent";
            Record.Write("up", record);
            var tags = string.Join(' ', (request["tags"] as JsonArray ?? []).Select(t => (string?)t));
            return Reply(1, "", $"backend error: requested tags [{tags}] are invalid or not permitted\n");
        }
        lock (_gate)
        {
            _state = "Running";
            _hostname = (string?)request["hostname"] ?? _hostname;
            _tags = request["tags"]?.DeepClone() as JsonArray;
        }
        record["result"] = "ok";
        Record.Write("up", record);
        return Reply(0, "", "");
    }

    private JsonObject Logout()
    {
        if (Env("TSSIM_LOGOUT_FAIL") == "1")
        {
            Record.Write("logout", new JsonObject { ["result"] = "failed" });
            return Reply(1, "", "logout failed: Post \"https://controlplane.tailscale.com/machine/logout\": context deadline exceeded\n");
        }
        lock (_gate) _state = "NeedsLogin";
        Record.Write("logout", new JsonObject { ["result"] = "ok" });
        return Reply(0, "", "");
    }

    /// <summary>The shape of Tailscale's ipnstate.Status (fields the pipeline ignores included).</summary>
    private JsonObject Status()
    {
        string state;
        string hostname;
        JsonArray? tags;
        lock (_gate)
        {
            state = _state;
            hostname = _hostname;
            tags = _tags?.DeepClone() as JsonArray;
        }
        var running = state == "Running";
        JsonNode? peers = null;
        if (running && Env("TSSIM_PEERS") is { Length: > 0 } fixture) peers = JsonNode.Parse(File.ReadAllText(fixture));
        var self = new JsonObject
        {
            ["ID"] = _selfId,
            ["PublicKey"] = "nodekey:5e1f" + _selfId.ToLowerInvariant(),
            ["HostName"] = hostname,
            ["DNSName"] = running ? $"{hostname}.sim-tailnet.ts.net." : "",
            ["OS"] = "linux",
            ["UserID"] = 1234,
            ["TailscaleIPs"] = running ? new JsonArray("100.100.1.1", "fd7a:115c:a1e0::1") : null,
            ["Online"] = running,
            ["Active"] = false,
            ["ExitNode"] = false,
            ["Relay"] = "fra",
            ["LastSeen"] = "0001-01-01T00:00:00Z",
            ["InNetworkMap"] = running,
            ["InMagicSock"] = false,
            ["InEngine"] = false,
        };
        if (tags is not null) self["Tags"] = tags;
        return new JsonObject
        {
            ["Version"] = "1.76.1-sim",
            ["TUN"] = !_userspace,
            ["BackendState"] = state,
            ["HaveNodeKey"] = running,
            ["AuthURL"] = "",
            ["TailscaleIPs"] = running ? new JsonArray("100.100.1.1", "fd7a:115c:a1e0::1") : null,
            ["Self"] = self,
            ["Health"] = state == "NeedsLogin" ? new JsonArray("You are logged out.") : new JsonArray(),
            ["MagicDNSSuffix"] = "sim-tailnet.ts.net",
            ["CurrentTailnet"] = running ? new JsonObject { ["Name"] = "sim.example.com", ["MagicDNSSuffix"] = "sim-tailnet.ts.net", ["MagicDNSEnabled"] = true } : null,
            ["CertDomains"] = null,
            ["Peer"] = peers,
            ["User"] = new JsonObject { ["1234"] = new JsonObject { ["ID"] = 1234, ["LoginName"] = "tagged-devices", ["DisplayName"] = "tagged-devices" } },
            ["ClientVersion"] = null,
        };
    }

    private static JsonObject Reply(int exit, string stdout, string stderr) =>
        new() { ["exit"] = exit, ["stdout"] = stdout, ["stderr"] = stderr };

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name);
}
