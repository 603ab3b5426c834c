using System.Collections.Concurrent;
using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Progress;
using Build.Deployment.Release;
using Build.Deployment.Reports;
using Build.Deployment.Ssh;
using Build.Settings;
using Build.Tests.Deployment.Release;
using Microsoft.Extensions.Time.Testing;
using TestHosts;

namespace Build.Tests.Deployment;

/// <summary>Three real sshd servers (127.0.0.2-4) shared by the deploy tests; each test works under its own remote base.</summary>
public sealed class DeployServers : IAsyncLifetime
{
    public IReadOnlyList<SshServer> Servers { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Servers = await Task.WhenAll(new[] { "127.0.0.2", "127.0.0.3", "127.0.0.4" }
            .Select(a => SshServer.StartAsync(new SshServerOptions { Address = a })));
        // One deploy key for all of them, as in production: server1's user key.
        foreach (var s in Servers.Skip(1))
            await File.AppendAllTextAsync(Path.Join(s.Directory, "authorized_keys"), Servers[0].UserKey.PublicKey + "\n");
    }

    public async Task DisposeAsync()
    {
        foreach (var s in Servers) await s.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class DeployCollection : ICollectionFixture<DeployServers>
{
    public const string Name = "deploy-servers";
}

/// <summary>Progress lines kept for assertions, with a hook tests use as an observable marker.</summary>
public sealed class RecordingProgress : IDeployProgress
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public Action<string, DeployPhase>? OnPhase { get; set; }

    public void Phase(string server, DeployPhase phase, string? detail = null)
    {
        Lines.Enqueue(detail is null ? $"{server}: {phase.Text()}" : $"{server}: {phase.Text()} {detail}");
        OnPhase?.Invoke(server, phase);
    }

    public void Upload(string server, long sent, long total) => Lines.Enqueue($"{server}: upload {sent}/{total}");

    public int Count(string server, string phase) => Lines.Count(l => l.StartsWith($"{server}: {phase}", StringComparison.Ordinal));

    public override string ToString() => string.Join('\n', Lines);
}

/// <summary>
/// One test's world: a site directory, a remote base (<c>base/{server}</c>) owned by the login user, the
/// servers as deploy targets (directly or through a <see cref="TcpProxy"/>), and a fan-out over them.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class DeployBed : IAsyncDisposable
{
    private readonly List<TcpProxy> _proxies = [];
    private readonly Dictionary<string, (string Address, int Port)> _endpoints = new();
    private readonly string _workspace;

    public DeployBed(DeployServers servers, int count = 2)
    {
        Fixture = servers.Servers.Take(count).ToList();
        _workspace = Directory.CreateTempSubdirectory("deploy-test-").FullName;
        File.SetUnixFileMode(_workspace, (UnixFileMode)0b111_101_101);
        Site = Path.Join(_workspace, "site");
        Directory.CreateDirectory(Site);
        Base = Path.Join(_workspace, "roots");
        Directory.CreateDirectory(Base);
        File.SetUnixFileMode(Base, (UnixFileMode)0b111_101_101);
        Chown(Base);
        for (var i = 0; i < Fixture.Count; i++) _endpoints[Name(i)] = (Fixture[i].Address, Fixture[i].Port);
    }

    public IReadOnlyList<SshServer> Fixture { get; }

    /// <summary>The site the next candidate is made of (a test may switch to another directory).</summary>
    public string Site { get; set; }

    public string Base { get; }

    public string Workspace => _workspace;

    public string RemoteRoot => Path.Join(Base, "{server}");

    public string User => Fixture[0].UserName;

    /// <summary>Release ids come from this clock (a minute apart per candidate) so they sort in deploy order.</summary>
    /// <summary>Starts now, so ids made here sort after one the program made just before.</summary>
    public FakeTimeProvider IdClock { get; } = new(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));

    /// <summary>Uploads of more than a few files go in two parallel parts, as large sites do in production.</summary>
    public ReleaseOptions Release { get; set; } = new()
    {
        KeepReleases = 5, LockWait = TimeSpan.FromSeconds(3), LockPoll = TimeSpan.FromMilliseconds(100), MinFilesPerStream = 8,
    };

    public RecordingProgress Progress { get; } = new();

    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromMinutes(2);

    public int Connects;

    public static string Name(int index) => $"server{index + 1}";

    public string RootOf(string server) => Path.Join(Base, server);

    public string Current(string server) => Path.Join(RootOf(server), "current");

    public string? CurrentId(string server) =>
        new FileInfo(Current(server)).LinkTarget is { } target ? Path.GetFileName(target) : null;

    public string[] Releases(string server) =>
        Directory.Exists(Path.Join(RootOf(server), "releases"))
            ? Directory.GetFileSystemEntries(Path.Join(RootOf(server), "releases")).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray()
            : [];

    public bool Locked(string server) => Directory.Exists(Path.Join(RootOf(server), ".deploy", "lock"));

    public string[] LogLines(string server) =>
        File.Exists(Path.Join(RootOf(server), ".deploy", "log")) ? File.ReadAllLines(Path.Join(RootOf(server), ".deploy", "log")) : [];

    /// <summary>Routes one server through a TCP proxy (latency, bandwidth cap, cuts, connection count).</summary>
    public TcpProxy Proxy(int index, TimeSpan delay = default, long? bytesPerSecond = null)
    {
        var proxy = new TcpProxy(Fixture[index].EndPoint, delay, bytesPerSecond);
        _proxies.Add(proxy);
        _endpoints[Name(index)] = (proxy.Address, proxy.Port);
        return proxy;
    }

    /// <summary>A server name that nothing listens for (a server that is down).</summary>
    public DeployTarget Down(string name = "down1")
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Parse("127.0.0.5"), 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return new DeployTarget(name, "127.0.0.5", port);
    }

    public IReadOnlyList<DeployTarget> Targets() =>
        _endpoints.Select(e => new DeployTarget(e.Key, e.Value.Address, e.Value.Port)).OrderBy(t => t.Name, StringComparer.Ordinal).ToList();

    /// <summary>known_hosts for every target, by server name and [name]:port of the way it is reached.</summary>
    public string KnownHosts() => string.Concat(_endpoints.Select(e =>
        string.Concat(Fixture[int.Parse(e.Key["server".Length..], System.Globalization.CultureInfo.InvariantCulture) - 1].HostKeys
            .Select(k => $"[{e.Key}]:{e.Value.Port} {k}\n"))));

    public string KnownHostsFile(string? text = null)
    {
        var path = Path.Join(_workspace, "known_hosts");
        File.WriteAllText(path, text ?? KnownHosts());
        return path;
    }

    public SshConnector Connector(string? knownHosts = null, UserKey? key = null) =>
        new(SshPrivateKey.Load(new PathOrText((key ?? Fixture[0].UserKey).PrivateKeyPath, null, "--ssh-key"), null),
            Build.Deployment.Ssh.KnownHosts.Parse(knownHosts ?? KnownHosts()), User, 22, TimeSpan.FromSeconds(15));

    public ConnectServer Connect(SshConnector? connector = null)
    {
        connector ??= Connector();
        return async (target, ct) =>
        {
            Interlocked.Increment(ref Connects);
            var connection = await connector.ConnectAsync(target, ct);
            return new ServerLink(connection.Shell, connection);
        };
    }

    public FanOut FanOut(IReadOnlyList<DeployTarget>? targets = null, SwitchMode mode = SwitchMode.Together, ReleaseRun? run = null,
        ConnectServer? connect = null, int attempts = 3, RecordingProgress? progress = null) =>
        new(targets ?? Targets(), connect ?? Connect(), run ?? Run("run-test-a"), Release,
            new FanOutOptions { RemoteRoot = Build.Deployment.RemoteRoot.Of(RemoteRoot), Attempts = attempts, RetryDelay = TimeSpan.FromMilliseconds(50), Switch = mode, AttemptTimeout = AttemptTimeout },
            progress ?? Progress, TimeProvider.System);

    public static ReleaseRun Run(string id) => new(id, "testhost", 4242, "tester", null, null);

    public async Task<ReleaseCandidate> CandidateAsync()
    {
        IdClock.Advance(TimeSpan.FromMinutes(1));
        return await ReleaseCandidate.CreateAsync(Site, "0123456789abcdef", IdClock, CancellationToken.None);
    }

    /// <summary>One deploy of the site as it is now; the report of every server.</summary>
    public async Task<DeployReport> DeployAsync(FanOut? fanOut = null, CancellationToken cancellationToken = default)
    {
        var candidate = await CandidateAsync();
        var report = new DeployReport { Operation = "deploy", StartedAt = DateTimeOffset.UtcNow, ReleaseId = candidate.ReleaseId };
        await (fanOut ?? FanOut()).DeployAsync(Task.FromResult(candidate), report, cancellationToken);
        return report;
    }

    public async Task<DeployReport> RollbackAsync(string? release = null, IReadOnlyList<DeployTarget>? targets = null)
    {
        var report = new DeployReport { Operation = "rollback", StartedAt = DateTimeOffset.UtcNow };
        await FanOut(targets).RollbackAsync(release is null ? null : ReleaseId.Parse(release), report, CancellationToken.None);
        return report;
    }

    public void Write(string path, string content, int mode = 0b110_100_100)
    {
        Directory.CreateDirectory(Site);
        var full = Path.Join(Site, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        File.SetUnixFileMode(full, (UnixFileMode)mode);
    }

    /// <summary>A small Hexo-like site: pages, tag pages, an asset, each naming <paramref name="version"/> in index.html.</summary>
    public void Generate(int files = 24, int bytesPerFile = 2000, int seed = 1, string version = "v1")
    {
        var random = new Random(seed);
        for (var i = 0; i < files; i++)
        {
            var path = (i % 3) switch
            {
                0 => $"2026/{i % 12 + 1:00}/post-{i}/index.html",
                1 => $"tags/tag-{i % 5}/index-{i}.html",
                _ => $"assets/img-{i}.bin",
            };
            var bytes = new byte[bytesPerFile];
            random.NextBytes(bytes);
            var full = Path.Join(Site, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, bytes);
        }
        Write("index.html", $"<html><body>{version} <a href=\"/atom.xml\">feed</a></body></html>\n");
        Write("atom.xml", "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>test</title></feed>\n");
    }

    public void AssertCurrentIsSite(string server) => ReleaseTestKit.AssertSameTree(Site, Current(server));

    /// <summary>Everything under a server's root (releases, .deploy, the link): what "nothing changed" compares.</summary>
    public static SortedDictionary<string, string> Snapshot(string root)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(root)) return result;
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var info = new FileInfo(entry);
            var relative = Path.GetRelativePath(root, entry);
            result[relative] = info.LinkTarget is { } link ? "-> " + link
                : Directory.Exists(entry) ? "dir"
                : $"{info.Length} {info.LastWriteTimeUtc.Ticks} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(entry)))}";
        }
        return result;
    }

    public static void Chown(string path)
    {
        if (!LocalProcessIsRoot) return;
        var result = LocalProcess.RunAsync("chown", ["deploytest:", path], CancellationToken.None).GetAwaiter().GetResult();
        result.EnsureSuccess("chown");
    }

    private static bool LocalProcessIsRoot => LocalProcess.IsRoot;

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _proxies) await p.DisposeAsync();
        try { Directory.Delete(_workspace, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
