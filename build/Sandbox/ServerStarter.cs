using System.Net;
using System.Net.Sockets;

namespace Build.Sandbox;

/// <summary>A daemon that started and answers on its port.</summary>
public sealed record StartedDaemon(DaemonRecord Daemon, int Port);

/// <summary>A daemon that did not start: why, and the tail of its log.</summary>
public class DaemonStartException(string message) : PipelineException(message);

/// <summary>The port was taken between the probe and the bind: the caller picks another.</summary>
public sealed class PortTakenException(string message) : DaemonStartException(message);

/// <summary>
/// Starts one sandbox server's real OpenSSH sshd or nginx, detached, on a given loopback address and
/// port, with its own config, and waits (bounded) until it has bound the port and answers on it.
/// </summary>
public sealed class ServerStarter(SandboxLayout layout, LoginAccount account, MachineFacts machine, Daemons daemons, TimeProvider time)
{
    /// <summary>Bound on a daemon's start: sshd and nginx take milliseconds; a busy machine, seconds.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public Task<DaemonRecord> StartSshdAsync(string server, string address, int port, CancellationToken cancellationToken)
    {
        var sshd = machine.Find("sshd") ?? throw new PipelineException("sshd was not found.");
        // sshd re-executes itself and needs its absolute path; as root it also needs its privilege separation directory.
        sshd = Path.GetFullPath(sshd);
        if (machine.IsRoot) Directory.CreateDirectory("/run/sshd");
        var config = layout.SshdConfig(server);
        File.WriteAllText(config, SshdConfig(server, address, port));
        return StartAsync($"{server} sshd", address, port, layout.SshdLog(server), layout.SshdPidFile(server), config,
            () => daemons.Start(Setsid(), sshd, ["-D", "-e", "-f", config], layout.SshdLog(server)), cancellationToken);
    }

    public Task<DaemonRecord> StartNginxAsync(string server, string address, int port, CancellationToken cancellationToken)
    {
        var nginx = Path.GetFullPath(machine.Find("nginx") ?? throw new PipelineException("nginx was not found."));
        var config = layout.NginxConfig(server);
        var prefix = layout.NginxPrefix(server);
        (string, int, int)? runAs = account.IsOtherUser
            ? (machine.Find("setpriv") ?? throw new PipelineException("setpriv was not found."), account.Uid, account.Gid)
            : null;
        File.WriteAllText(config, NginxConfig(server, address, port));
        // -e: nginx would first try its compiled-in error log (/var/log/nginx), which an unprivileged user cannot open.
        return StartAsync($"{server} nginx", address, port, layout.NginxLog(server), layout.NginxPidFile(server), config,
            () => daemons.Start(Setsid(), nginx, ["-e", "stderr", "-p", prefix + "/", "-c", config], layout.NginxLog(server), runAs), cancellationToken);
    }

    private string Setsid() => machine.Find("setsid") ?? throw new PipelineException("setsid was not found.");

    private async Task<DaemonRecord> StartAsync(
        string what, string address, int port, string logFile, string pidFile, string config, Func<int> launch, CancellationToken cancellationToken)
    {
        if (File.Exists(pidFile)) File.Delete(pidFile);
        var logStart = File.Exists(logFile) ? new FileInfo(logFile).Length : 0;
        var pid = launch();
        try
        {
            if (await WaitReadyAsync(pid, config, pidFile, address, port, cancellationToken) is { } daemonPid)
                return new DaemonRecord(what.Split(' ')[1], daemonPid, config);
        }
        catch (OperationCanceledException)
        {
            await daemons.StopAsync(new DaemonRecord(what, pid, config), TimeSpan.FromSeconds(5), CancellationToken.None);
            throw;
        }

        await daemons.StopAsync(new DaemonRecord(what, pid, config), TimeSpan.FromSeconds(5), CancellationToken.None);
        var newLines = ReadFrom(logFile, logStart);
        if (newLines.Contains("Address already in use", StringComparison.Ordinal))
            throw new PortTakenException($"{what}: port {port} on {address} was taken meanwhile.");
        throw new DaemonStartException(
            $"{what} did not start on {address}:{port} within {StartTimeout.TotalSeconds:0} s. The last lines of {logFile}:\n{Tail(newLines)}");
    }

    /// <summary>Waits until the daemon wrote its pid file (done after it bound its port) and the port answers; null if it died or the bound passed.</summary>
    private async Task<int?> WaitReadyAsync(int pid, string config, string pidFile, string address, int port, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + StartTimeout;
        while (time.GetUtcNow() < deadline)
        {
            // Only whether it still runs: while sshd rewrites its process title, its command line can read as anything.
            if (!Daemons.IsAlive(pid, marker: null)) return null;
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var written) && Daemons.IsAlive(written, config)
                && await AnswersAsync(address, port, cancellationToken))
                return written;
            await Task.Delay(TimeSpan.FromMilliseconds(25), time, cancellationToken);
        }
        return null;
    }

    private static async Task<bool> AnswersAsync(string address, int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await client.ConnectAsync(IPAddress.Parse(address), port, bound.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }

    private static string ReadFrom(string file, long offset)
    {
        if (!File.Exists(file)) return "";
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
        // The log is the daemon's own output: bounded and stripped of control characters before it is shown.
        var buffer = new byte[Math.Min(64 * 1024, stream.Length - stream.Position)];
        stream.Seek(-buffer.Length, SeekOrigin.End);
        stream.ReadExactly(buffer);
        return System.Text.Encoding.UTF8.GetString(buffer);
    }

    private static string Tail(string text)
    {
        var lines = text.Split('\n').Select(l => new string(l.Where(c => !char.IsControl(c)).ToArray())).Where(l => l.Length > 0).TakeLast(15);
        var tail = string.Join('\n', lines);
        return tail.Length > 0 ? tail : "(empty)";
    }

    private static string Quote(string path) => "\"" + path.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private string SshdConfig(string server, string address, int port) => string.Join('\n',
        $"ListenAddress {address}:{port}",
        $"HostKey {Quote(layout.HostKey(server))}",
        $"AuthorizedKeysFile {Quote(layout.AuthorizedKeys)}",
        $"PidFile {Quote(layout.SshdPidFile(server))}",
        $"AllowUsers {account.Name}",
        // The key file lives in the sandbox's own folder, not in the account's ~/.ssh.
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin no",
        "UseDNS no",
        "MaxStartups 50",
        "MaxSessions 50",
        "");

    private string NginxConfig(string server, string address, int port)
    {
        var prefix = layout.NginxPrefix(server);
        return string.Join('\n',
            "daemon off;",
            "worker_processes 1;",
            $"pid {Quote(layout.NginxPidFile(server))};",
            "error_log stderr notice;",
            "events { worker_connections 64; }",
            "http {",
            // Its own types (not /etc/nginx/mime.types): a stylesheet must go out as text/css for a browser to apply it.
            "    types {",
            "        text/html html htm; text/css css; text/plain txt; text/xml xml; application/atom+xml atom;",
            "        application/javascript js; application/json json; image/png png; image/jpeg jpg jpeg; image/gif gif;",
            "        image/svg+xml svg; image/x-icon ico; image/webp webp; font/woff woff; font/woff2 woff2; font/ttf ttf;",
            "        application/vnd.ms-fontobject eot;",
            "    }",
            "    default_type application/octet-stream;",
            $"    access_log {Quote(Path.Join(prefix, "access.log"))};",
            $"    client_body_temp_path {Quote(Path.Join(prefix, "client_body"))};",
            $"    proxy_temp_path {Quote(Path.Join(prefix, "proxy"))};",
            $"    fastcgi_temp_path {Quote(Path.Join(prefix, "fastcgi"))};",
            $"    uwsgi_temp_path {Quote(Path.Join(prefix, "uwsgi"))};",
            $"    scgi_temp_path {Quote(Path.Join(prefix, "scgi"))};",
            "    server {",
            $"        listen {address}:{port};",
            // The same line the README tells a real server to use: the deploy switches current atomically.
            $"        root {Quote(Path.Join(layout.RemoteRoot(server), "current"))};",
            "        index index.html;",
            "    }",
            "}",
            "");
    }
}
