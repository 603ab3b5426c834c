using System.Diagnostics;
using TestHosts;

namespace Bench;

/// <summary>One benchmark server: a real sshd and the latency proxy every contender goes through.</summary>
public sealed record BenchServer(string Name, SshServer Sshd, TcpProxy Proxy);

/// <summary>
/// N real sshd processes (127.0.0.2, .3, ...), each behind a TCP proxy on 127.0.0.1 adding half the
/// round trip each way; one user key authorized on all of them; a known_hosts file naming the
/// proxies' addresses (what the clients connect to), so host keys are checked as in production.
/// </summary>
public sealed class ServerFarm : IAsyncDisposable
{
    private readonly List<BenchServer> _servers;

    private ServerFarm(List<BenchServer> servers, string directory, string knownHosts)
    {
        _servers = servers;
        Directory = directory;
        KnownHostsPath = knownHosts;
    }

    public IReadOnlyList<BenchServer> Servers => _servers;
    public string Directory { get; }
    public string KnownHostsPath { get; }
    public string UserName => _servers[0].Sshd.UserName;
    public string KeyPath => _servers[0].Sshd.UserKey.PrivateKeyPath;

    public static async Task<ServerFarm> StartAsync(int count, TimeSpan rtt, long? bytesPerSecond, CancellationToken cancellationToken)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("bench-farm-").FullName;
        SetMode755(directory);
        var servers = new List<BenchServer>();
        var farm = new ServerFarm(servers, directory, Path.Join(directory, "known_hosts"));
        try
        {
            // Started one after another: useradd and sshd start-up race each other on a loaded machine otherwise.
            for (var i = 0; i < count; i++)
            {
                var sshd = await SshServer.StartAsync(new SshServerOptions { Address = $"127.0.0.{i + 2}" }, cancellationToken);
                var proxy = new TcpProxy(sshd.EndPoint, rtt / 2, bytesPerSecond);
                servers.Add(new BenchServer($"s{i + 1}", sshd, proxy));
            }
            var key = servers[0].Sshd.UserKey.PublicKey;
            foreach (var s in servers.Skip(1))
                await File.AppendAllTextAsync(Path.Join(s.Sshd.Directory, "authorized_keys"), key + "\n", cancellationToken);
            await File.WriteAllTextAsync(farm.KnownHostsPath, KnownHosts(servers), cancellationToken);
            return farm;
        }
        catch
        {
            await farm.DisposeAsync();
            throw;
        }
    }

    /// <summary>known_hosts lines for what the clients dial: [127.0.0.1]:PROXYPORT.</summary>
    internal static string KnownHosts(IEnumerable<BenchServer> servers) =>
        string.Concat(servers.SelectMany(s => s.Sshd.HostKeys.Select(k => $"[{s.Proxy.Address}]:{s.Proxy.Port} {k}\n")));

    /// <summary>Sends every server's upstream through one shared link of <paramref name="bytesPerSecond"/>, or lifts it (null).</summary>
    public void SetSharedUplink(long? bytesPerSecond)
    {
        var link = bytesPerSecond is { } bps ? new SharedLink(bps) : null;
        foreach (var s in _servers) s.Proxy.Uplink = link;
    }

    public void SetRtt(TimeSpan rtt)
    {
        foreach (var s in _servers) s.Proxy.OneWayDelay = rtt / 2;
    }

    /// <summary>
    /// A fresh remote base for one run: BASE/sN owned by the login user for each of the first
    /// <paramref name="servers"/> servers (all sshd share this machine's file system).
    /// </summary>
    public async Task<string> CreateRemoteBaseAsync(string name, int servers, CancellationToken cancellationToken)
    {
        var remote = Path.Join(Directory, "remote");
        System.IO.Directory.CreateDirectory(remote);
        var path = Path.Join(remote, name);
        System.IO.Directory.CreateDirectory(path);
        SetMode755(path);
        foreach (var s in _servers.Take(servers))
        {
            var dir = Path.Join(path, s.Name);
            System.IO.Directory.CreateDirectory(dir);
            if (s.Sshd.RunsAsRoot)
                (await LocalProcess.RunAsync("chown", [$"{UserName}:", dir], cancellationToken)).EnsureSuccess("chown remote root");
        }
        return path;
    }

    /// <summary>Bytes through the first <paramref name="servers"/> proxies so far (up, down).</summary>
    public (long Up, long Down) Bytes(int servers) =>
        (_servers.Take(servers).Sum(s => s.Proxy.BytesUpstream), _servers.Take(servers).Sum(s => s.Proxy.BytesDownstream));

    private static void SetMode755(string path)
    {
        // The login user must reach what lies below (temp folders are 700).
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("755", 8));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var s in _servers)
        {
            await s.Proxy.DisposeAsync();
            await s.Sshd.DisposeAsync();
        }
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException e) { Debug.WriteLine(e.Message); }
        catch (UnauthorizedAccessException e) { Debug.WriteLine(e.Message); }
    }
}
