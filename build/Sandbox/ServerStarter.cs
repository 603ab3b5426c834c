using System.Net;
using System.Net.Sockets;

namespace Build.Sandbox;

/// <summary>A daemon that started and answers on its port.</summary>
public sealed record StartedDaemon(DaemonRecord Daemon, int Port);

/// <summary>A daemon that did not start: why, and the tail of its log.</summary>
public sealed class DaemonStartException(string message) : PipelineException(message);

/// <summary>
/// Starts one sandbox server's real OpenSSH sshd and nginx, each detached, on a free loopback port
/// (the one it had before when that is still free, so URLs stay the same), with their own config.
/// A port taken between the probe and the bind makes it try another.
/// </summary>
public sealed class ServerStarter(SandboxLayout layout, LoginAccount account, MachineFacts machine, Daemons daemons, TimeProvider time, Action<string> log)
{
    public const string Address = "127.0.0.1";
    private const int Attempts = 5;

    /// <summary>Bound on a daemon's start: sshd and nginx take milliseconds; a busy machine, seconds.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public async Task<StartedDaemon> StartSshdAsync(string server, int? preferredPort, ISet<int> taken, CancellationToken cancellationToken)
    {
        var sshd = machine.Find("sshd") ?? throw new PipelineException("sshd was not found.");
        // sshd re-executes itself and needs its absolute path; as root it also needs its privilege separation directory.
        sshd = Path.GetFullPath(sshd);
        if (machine.IsRoot) Directory.CreateDirectory("/run/sshd");
        var config = layout.SshdConfig(server);
        return await StartAsync($"{server} sshd", preferredPort, taken, layout.SshdLog(server), layout.SshdPidFile(server), config, port =>
        {
            File.WriteAllText(config, SshdConfig(server, port));
            return daemons.Start(Setsid(), sshd, ["-D", "-e", "-f", config], layout.SshdLog(server));
        }, cancellationToken);
    }

    public async Task<StartedDaemon> StartNginxAsync(string server, int? preferredPort, ISet<int> taken, CancellationToken cancellationToken)
    {
        var nginx = Path.GetFullPath(machine.Find("nginx") ?? throw new PipelineException("nginx was not found."));
        var config = layout.NginxConfig(server);
        var prefix = layout.NginxPrefix(server);
        (string, int, int)? runAs = account.IsOtherUser
            ? (machine.Find("setpriv") ?? throw new PipelineException("setpriv was not found."), account.Uid, account.Gid)
            : null;
        return await StartAsync($"{server} nginx", preferredPort, taken, layout.NginxLog(server), layout.NginxPidFile(server), config, port =>
        {
            File.WriteAllText(config, NginxConfig(server, port));
            // -e: nginx would first try its compiled-in error log (/var/log/nginx), which an unprivileged user cannot open.
            return daemons.Start(Setsid(), nginx, ["-e", "stderr", "-p", prefix + "/", "-c", config], layout.NginxLog(server), runAs);
        }, cancellationToken);
    }

    private string Setsid() => machine.Find("setsid") ?? throw new PipelineException("setsid was not found.");

    private async Task<StartedDaemon> StartAsync(
        string what, int? preferredPort, ISet<int> taken, string logFile, string pidFile, string config, Func<int, int> launch, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = ChoosePort(what, attempt == 1 ? preferredPort : null, taken);
            if (File.Exists(pidFile)) File.Delete(pidFile);
            var logStart = File.Exists(logFile) ? new FileInfo(logFile).Length : 0;
            var pid = launch(port);
            var outcome = await WaitReadyAsync(pid, config, pidFile, port, cancellationToken);
            if (outcome is { } daemonPid)
            {
                taken.Add(port);
                return new StartedDaemon(new DaemonRecord(what.Split(' ')[1], daemonPid, config), port);
            }

            await daemons.StopAsync(new DaemonRecord(what, pid, config), TimeSpan.FromSeconds(5), CancellationToken.None);
            var newLines = ReadFrom(logFile, logStart);
            if (attempt < Attempts && newLines.Contains("Address already in use", StringComparison.Ordinal))
            {
                // Another program took the port between the probe and the bind.
                log($"{what}: port {port} was taken meanwhile; trying another.");
                taken.Add(port);
                continue;
            }
            throw new DaemonStartException(
                $"{what} did not start on {Address}:{port} within {StartTimeout.TotalSeconds:0} s. The last lines of {logFile}:\n{Tail(newLines)}");
        }
    }

    /// <summary>Waits until the daemon wrote its pid file (done after it bound its port) and the port answers; null if it died or the bound passed.</summary>
    private async Task<int?> WaitReadyAsync(int pid, string config, string pidFile, int port, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + StartTimeout;
        while (time.GetUtcNow() < deadline)
        {
            if (!Daemons.IsAlive(pid, config)) return null;
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var written) && Daemons.IsAlive(written, config)
                && await AnswersAsync(port, cancellationToken))
                return written;
            await Task.Delay(TimeSpan.FromMilliseconds(25), time, cancellationToken);
        }
        return null;
    }

    private static async Task<bool> AnswersAsync(int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await client.ConnectAsync(IPAddress.Parse(Address), port, bound.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }

    private int ChoosePort(string what, int? preferred, ISet<int> taken)
    {
        if (preferred is { } p and > 0 && !taken.Contains(p))
        {
            if (IsFree(p)) return p;
            log($"{what}: its port {p} is taken by another program; picking another.");
        }
        for (var i = 0; i < 50; i++)
        {
            using var probe = new TcpListener(IPAddress.Parse(Address), 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            if (!taken.Contains(port)) return port;
        }
        throw new PipelineException($"No free port on {Address}.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var probe = new TcpListener(IPAddress.Parse(Address), port);
            probe.Start();
            probe.Stop();
            return true;
        }
        catch (SocketException)
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

    private string SshdConfig(string server, int port) => string.Join('\n',
        $"ListenAddress {Address}:{port}",
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

    private string NginxConfig(string server, int port)
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
            $"        listen {Address}:{port};",
            // The same line the README tells a real server to use: the deploy switches current atomically.
            $"        root {Quote(Path.Join(layout.RemoteRoot(server), "current"))};",
            "        index index.html;",
            "    }",
            "}",
            "");
    }
}
