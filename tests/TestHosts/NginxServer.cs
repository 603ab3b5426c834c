using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TestHosts;

public sealed record NginxOptions
{
    /// <summary>Loopback address to listen on (127.0.0.2, ...).</summary>
    public string Address { get; init; } = "127.0.0.2";

    /// <summary>The port; null picks a free one. Several servers share one port on their own addresses so that
    /// <c>--health-url=http://{host}:PORT/...</c> reaches each.</summary>
    public int? Port { get; init; }

    /// <summary>The document root: <c>&lt;remote-root&gt;/current</c>, as the README tells users to configure it.</summary>
    public required string Root { get; init; }

    /// <summary>The account the unprivileged nginx runs as when the tests run as root.</summary>
    public string RootLoginUser { get; init; } = "deploytest";

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(20);
}

/// <summary>
/// Debian's nginx (<c>/usr/sbin/nginx</c>) as an unprivileged child process with its own configuration: pid file,
/// logs and temporary directories in a temporary directory, <c>daemon off</c>, one loopback address and port, and
/// <c>root &lt;remote-root&gt;/current;</c> (<see cref="Config"/> is the README's example). As root it drops to the
/// test user with <c>setpriv</c> (which execs, so the process started is nginx itself). Ready once it accepts a
/// connection; <see cref="StopAsync"/>/<see cref="StartAsync()"/> take it down and bring it back on the same port.
/// </summary>
public sealed class NginxServer : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/nginx";

    private readonly StringBuilder _output = new();
    private Process? _process;

    private NginxServer(NginxOptions options, string directory)
    {
        Options = options;
        Directory = directory;
    }

    public NginxOptions Options { get; private set; }

    public string Address => Options.Address;

    public int Port { get; private set; }

    public string Directory { get; }

    public Uri BaseUrl => new($"http://{Address}:{Port}/");

    public bool IsRunning => _process is { HasExited: false };

    public static bool IsInstalled => File.Exists(Binary);

    /// <summary>nginx's error log and what it printed.</summary>
    public string Log
    {
        get
        {
            var file = Path.Join(Directory, "error.log");
            lock (_output) return (File.Exists(file) ? File.ReadAllText(file) : "") + _output;
        }
    }

    public static async Task<NginxServer> StartAsync(NginxOptions options, CancellationToken cancellationToken = default)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("nginx-fixture-").FullName;
        var server = new NginxServer(options, directory);
        try
        {
            System.IO.Directory.CreateDirectory(Path.Join(directory, "tmp"));
            if (LocalProcess.IsRoot)
                (await LocalProcess.RunAsync("chown", ["-R", $"{options.RootLoginUser}:", directory], cancellationToken)).EnsureSuccess("chown nginx directory");
            for (var attempt = 1; ; attempt++)
            {
                server.Port = options.Port ?? FreePort(options.Address);
                try
                {
                    await server.StartAsync(cancellationToken);
                    return server;
                }
                catch (PortTakenException) when (attempt < 5 && options.Port is null)
                {
                    // Taken between probing and binding: another port.
                }
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A port free on every one of <paramref name="addresses"/>, for servers that share it.</summary>
    public static int FreePortOnAll(IReadOnlyList<string> addresses)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var port = FreePort(addresses[0]);
            if (addresses.Skip(1).All(a => IsFree(a, port))) return port;
        }
        throw new InvalidOperationException($"no port free on all of {string.Join(", ", addresses)}");
    }

    /// <summary>
    /// The configuration: the same one the README shows, with this fixture's pid, logs, temporary directories and
    /// listen address. <paramref name="root"/> is <c>&lt;remote-root&gt;/current</c>.
    /// </summary>
    public static string Config(string directory, string address, int port, string root) => $$"""
        daemon off;
        worker_processes 1;
        pid {{directory}}/nginx.pid;
        error_log {{directory}}/error.log warn;
        events { worker_connections 512; }
        http {
            include /etc/nginx/mime.types;
            default_type application/octet-stream;
            access_log off;
            client_body_temp_path {{directory}}/tmp/body;
            proxy_temp_path {{directory}}/tmp/proxy;
            fastcgi_temp_path {{directory}}/tmp/fastcgi;
            uwsgi_temp_path {{directory}}/tmp/uwsgi;
            scgi_temp_path {{directory}}/tmp/scgi;
            server {
                listen {{address}}:{{port}};
                server_name _;
                root {{root}};
                # The release marker: what the deploy's health check asks for. Never cached.
                location = /.well-known/release {
                    default_type text/plain;
                    add_header Cache-Control "no-store" always;
                    etag off;
                    if_modified_since off;
                }
                location / {
                    try_files $uri $uri/ =404;
                }
            }
        }

        """;

    /// <summary>Starts nginx (again) on this server's port with its current root.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (IsRunning) return;
        var config = Path.Join(Directory, "nginx.conf");
        await File.WriteAllTextAsync(config, Config(Directory, Address, Port, Options.Root), cancellationToken);
        var info = new ProcessStartInfo(LocalProcess.IsRoot ? "setpriv" : Binary)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (LocalProcess.IsRoot)
        {
            var id = (await LocalProcess.RunAsync("id", ["-u", Options.RootLoginUser], cancellationToken)).EnsureSuccess("id").Output.Trim();
            foreach (var a in new[] { $"--reuid={id}", $"--regid={id}", "--clear-groups", "--", Binary }) info.ArgumentList.Add(a);
        }
        foreach (var a in new[] { "-p", Directory, "-c", config, "-e", Path.Join(Directory, "error.log") }) info.ArgumentList.Add(a);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;

        // Ready: it accepts a connection (the observable marker); an exit before that is a failed start.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                var log = Log;
                _process = null;
                if (log.Contains("Address already in use", StringComparison.Ordinal)) throw new PortTakenException();
                throw new InvalidOperationException($"nginx exited with {process.ExitCode} before listening on {Address}:{Port}. Its log:\n{log}");
            }
            if (await AcceptsAsync(cancellationToken)) return;
            if (deadline.Elapsed > Options.StartTimeout)
            {
                await StopAsync();
                throw new InvalidOperationException($"nginx did not listen on {Address}:{Port} within {Options.StartTimeout.TotalSeconds:0} s. Its log:\n{Log}");
            }
            await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromMilliseconds(50), cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>Points nginx at another document root (a wrong root, for the health tests) and restarts it.</summary>
    public async Task RestartWithRootAsync(string root, CancellationToken cancellationToken = default)
    {
        await StopAsync();
        Options = Options with { Root = root };
        await StartAsync(cancellationToken);
    }

    /// <summary>Stops nginx (master and worker): nothing listens until <see cref="StartAsync()"/>.</summary>
    public async Task StopAsync()
    {
        if (_process is not { } process) return;
        _process = null;
        try { process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { /* already exited */ }
        await process.WaitForExitAsync();
        process.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private async Task<bool> AcceptsAsync(CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Parse(Address), Port, cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(1), cancellationToken);
            return true;
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return false;
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

    private static bool IsFree(string address, int port)
    {
        try
        {
            using var probe = new TcpListener(IPAddress.Parse(address), port);
            probe.Start();
            probe.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private sealed class PortTakenException : Exception;
}
