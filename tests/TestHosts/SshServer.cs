using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TestHosts;

public sealed record SshServerOptions
{
    /// <summary>Loopback address to listen on; several servers use 127.0.0.2, 127.0.0.3, ...</summary>
    public string Address { get; init; } = "127.0.0.2";

    /// <summary>The unprivileged account logged in to when the tests run as root.</summary>
    public string RootLoginUser { get; init; } = "deploytest";

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>sshd's MaxSessions: channels one connection may have open at once (OpenSSH's default is 10).</summary>
    public int MaxSessions { get; init; } = 100;

    /// <summary>
    /// PATH of every session (sshd's <c>SetEnv</c>, which overrides the default environment): a directory of BusyBox
    /// applet links here makes BusyBox the remote shell's tools. Null: sshd's default PATH.
    /// </summary>
    public string? SessionPath { get; init; }
}

/// <summary>A public key line's parts: type and base64 blob.</summary>
public sealed record PublicKey(string Type, string Base64)
{
    public static PublicKey ParseLine(string line)
    {
        var parts = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return new PublicKey(parts[0], parts[1]);
    }

    public byte[] Blob => Convert.FromBase64String(Base64);

    public override string ToString() => $"{Type} {Base64}";
}

/// <summary>A user key generated with ssh-keygen (OpenSSH format), optionally with a passphrase.</summary>
public sealed record UserKey(string PrivateKeyPath, string PrivateKeyText, PublicKey PublicKey, string? Passphrase);

/// <summary>
/// A real OpenSSH sshd as a child process, on its own loopback address and a free high port, with
/// host keys (ed25519 and RSA) and a user key generated at start in a temporary directory. As root
/// it logs in an unprivileged user (created if missing), so permission errors are real; otherwise
/// it logs in the current user. Disposing stops sshd and removes the directory.
/// </summary>
public sealed class SshServer : IAsyncDisposable
{
    private static readonly SemaphoreSlim AccountLock = new(1, 1); // useradd/usermod lock /etc/passwd machine-wide.

    private readonly SshServerOptions _options;
    private readonly SemaphoreSlim _authorizedKeysLock = new(1, 1);
    private readonly StringBuilder _log = new();
    private Process? _process;
    private int _keyCount;

    private SshServer(SshServerOptions options, string directory, string userName)
    {
        _options = options;
        Directory = directory;
        UserName = userName;
    }

    public string Address => _options.Address;
    public int Port { get; private set; }

    /// <summary>The temporary directory holding keys, config, logs and remote roots.</summary>
    public string Directory { get; }

    /// <summary>The account SSH logins use.</summary>
    public string UserName { get; }

    public bool RunsAsRoot => LocalProcess.IsRoot;

    public IReadOnlyList<PublicKey> HostKeys { get; private set; } = [];

    /// <summary>The ed25519 user key authorized at start.</summary>
    public UserKey UserKey { get; private set; } = null!;

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>What sshd printed so far (its -e log).</summary>
    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    public IPEndPoint EndPoint => new(IPAddress.Parse(Address), Port);

    public static async Task<SshServer> StartAsync(SshServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SshServerOptions();
        var userName = LocalProcess.IsRoot ? options.RootLoginUser : Environment.UserName;
        if (LocalProcess.IsRoot) await EnsureLoginUserAsync(userName, cancellationToken);

        var directory = System.IO.Directory.CreateTempSubdirectory("sshd-fixture-").FullName;
        // The login user reads authorized_keys and reaches its remote roots through this directory.
        SetMode(directory, "755");
        var server = new SshServer(options, directory, userName);
        try
        {
            await server.GenerateHostKeysAsync(cancellationToken);
            server.UserKey = await server.CreateUserKeyAsync("ed25519", cancellationToken: cancellationToken);
            await server.LaunchAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>known_hosts lines for this server's host keys under <paramref name="host"/> (default: its address), with [host]:port.</summary>
    public string KnownHostsLines(string? host = null, IEnumerable<string>? types = null)
    {
        var pattern = $"[{host ?? Address}]:{Port}";
        return string.Concat(HostKeys.Where(k => types is null || types.Contains(k.Type)).Select(k => $"{pattern} {k}\n"));
    }

    /// <summary>Generates a user key (ed25519 or rsa) with ssh-keygen; authorized for login unless told otherwise.</summary>
    public async Task<UserKey> CreateUserKeyAsync(string type = "ed25519", string? passphrase = null, bool authorize = true, CancellationToken cancellationToken = default)
    {
        var path = Path.Join(Directory, $"user_key_{Interlocked.Increment(ref _keyCount)}_{type}");
        var args = new List<string> { "-q", "-t", type, "-N", passphrase ?? "", "-C", $"test-{type}", "-f", path };
        if (type == "rsa") args.InsertRange(0, ["-b", "2048"]);
        (await LocalProcess.RunAsync("ssh-keygen", args, cancellationToken)).EnsureSuccess("ssh-keygen (user key)");
        var publicKey = PublicKey.ParseLine(await File.ReadAllTextAsync(path + ".pub", cancellationToken));
        if (authorize)
        {
            await _authorizedKeysLock.WaitAsync(cancellationToken);
            try { await File.AppendAllTextAsync(Path.Join(Directory, "authorized_keys"), publicKey + "\n", cancellationToken); }
            finally { _authorizedKeysLock.Release(); }
        }
        return new UserKey(path, await File.ReadAllTextAsync(path, cancellationToken), publicKey, passphrase);
    }

    /// <summary>A directory under this server's temporary directory, owned by the login user (for --remote-root).</summary>
    public async Task<string> CreateRemoteRootAsync(string name, CancellationToken cancellationToken = default)
    {
        var roots = Path.Join(Directory, "roots");
        System.IO.Directory.CreateDirectory(roots);
        SetMode(roots, "755");
        var path = Path.Join(roots, name);
        System.IO.Directory.CreateDirectory(path);
        if (RunsAsRoot)
            (await LocalProcess.RunAsync("chown", [$"{UserName}:", path], cancellationToken)).EnsureSuccess("chown remote root");
        return path;
    }

    /// <summary>Runs <c>sh -c SCRIPT sh ARGS...</c> locally as the login user (for assertions about what it can see or do).</summary>
    public Task<ProcessResult> RunAsUserAsync(string script, IReadOnlyList<string>? arguments = null, CancellationToken cancellationToken = default)
    {
        var argv = new List<string>();
        string program;
        if (RunsAsRoot)
        {
            program = "runuser";
            argv.AddRange(["-u", UserName, "--", "/bin/sh", "-c", script, "sh"]);
        }
        else
        {
            program = "/bin/sh";
            argv.AddRange(["-c", script, "sh"]);
        }
        argv.AddRange(arguments ?? []);
        return LocalProcess.RunAsync(program, argv, cancellationToken);
    }

    /// <summary>Stops sshd (and every session it forked): the server is down until <see cref="RestartAsync"/>.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process) return;
        _process = null;
        try { process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { /* already exited */ }
        await process.WaitForExitAsync();
        process.Dispose();
    }

    /// <summary>Starts sshd again on the same address, port and keys.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await StopAsync();
        await LaunchAsync(cancellationToken, keepPort: true);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { /* best effort: a temp dir */ }
        catch (UnauthorizedAccessException) { }
    }

    private async Task GenerateHostKeysAsync(CancellationToken cancellationToken)
    {
        var keys = new List<PublicKey>();
        foreach (var (type, bits) in new[] { ("ed25519", (string?)null), ("rsa", "2048") })
        {
            var path = Path.Join(Directory, $"ssh_host_{type}_key");
            var args = new List<string> { "-q", "-t", type, "-N", "", "-C", "", "-f", path };
            if (bits is not null) args.InsertRange(0, ["-b", bits]);
            (await LocalProcess.RunAsync("ssh-keygen", args, cancellationToken)).EnsureSuccess("ssh-keygen (host key)");
            keys.Add(PublicKey.ParseLine(await File.ReadAllTextAsync(path + ".pub", cancellationToken)));
        }
        HostKeys = keys;
        await File.WriteAllTextAsync(Path.Join(Directory, "authorized_keys"), "", cancellationToken);
        SetMode(Path.Join(Directory, "authorized_keys"), "644");
    }

    private async Task LaunchAsync(CancellationToken cancellationToken, bool keepPort = false)
    {
        if (RunsAsRoot) System.IO.Directory.CreateDirectory("/run/sshd"); // privilege separation directory
        for (var attempt = 1; ; attempt++)
        {
            if (!keepPort) Port = FreePort(Address);
            var config = Path.Join(Directory, "sshd_config");
            await File.WriteAllTextAsync(config, Config(), cancellationToken);
            try
            {
                await StartProcessAsync(config, cancellationToken);
                return;
            }
            catch (PortTakenException) when (attempt < 5 && !keepPort)
            {
                // Another process took the port between probing and binding: pick another.
            }
        }
    }

    private string Config() => string.Join('\n',
        $"ListenAddress {Address}:{Port}",
        $"HostKey {Path.Join(Directory, "ssh_host_ed25519_key")}",
        $"HostKey {Path.Join(Directory, "ssh_host_rsa_key")}",
        $"AuthorizedKeysFile {Path.Join(Directory, "authorized_keys")}",
        $"PidFile {Path.Join(Directory, "sshd.pid")}",
        $"AllowUsers {UserName}",
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin no",
        "UseDNS no",
        "LogLevel VERBOSE",
        "MaxStartups 200",
        $"MaxSessions {_options.MaxSessions}",
        _options.SessionPath is { } path ? $"SetEnv PATH={path}" : "",
        "Subsystem sftp internal-sftp",
        "");

    private async Task StartProcessAsync(string config, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("/usr/sbin/sshd")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-D", "-e", "-f", config }) info.ArgumentList.Add(a);
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var marker = $"Server listening on {Address} port {Port}";
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_log) _log.AppendLine(e.Data);
            if (e.Data.Contains(marker, StringComparison.Ordinal)) listening.TrySetResult();
        };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("sshd exited"));
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.StartTimeout);
        try
        {
            await listening.Task.WaitAsync(timeout.Token);
        }
        catch (Exception e)
        {
            await StopAsync();
            var log = Log;
            if (log.Contains("Address already in use", StringComparison.Ordinal)) throw new PortTakenException();
            throw new InvalidOperationException($"sshd did not start listening on {Address}:{Port} ({e.Message}). Its log:\n{log}", e);
        }
    }

    private static int FreePort(string address)
    {
        using var probe = new TcpListener(IPAddress.Parse(address), 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private static async Task EnsureLoginUserAsync(string user, CancellationToken cancellationToken)
    {
        await AccountLock.WaitAsync(cancellationToken);
        try
        {
            if ((await LocalProcess.RunAsync("id", ["-u", user], cancellationToken)).ExitCode != 0)
                (await LocalProcess.RunAsync("useradd", ["--create-home", "--shell", "/bin/sh", user], cancellationToken)).EnsureSuccess($"useradd {user}");
            // sshd without PAM refuses a locked account ("!" in shadow); "*" is no password, not locked.
            var shadow = File.ReadLines("/etc/shadow").FirstOrDefault(l => l.StartsWith(user + ":", StringComparison.Ordinal));
            if (shadow?.Split(':')[1].StartsWith('!') == true)
                (await LocalProcess.RunAsync("usermod", ["-p", "*", user], cancellationToken)).EnsureSuccess($"usermod -p '*' {user}");
        }
        finally
        {
            AccountLock.Release();
        }
    }

    private static void SetMode(string path, string octal)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32(octal, 8));
    }

    private sealed class PortTakenException : Exception;
}
