using System.Runtime.Versioning;
using Build.Deployment.Health;
using Build.Settings;
using TestHosts;

namespace Build.Tests.Deployment.Health;

/// <summary>
/// One real nginx per server of a <see cref="DeployBed"/>, each on its server's own loopback address and one shared
/// port, serving <c>&lt;remote-root&gt;/current</c>: so <c>--health-url=http://{host}:PORT/.well-known/release</c>
/// reaches each server's web server.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class WebServers : IAsyncDisposable
{
    private readonly Dictionary<string, NginxServer> _servers;

    private WebServers(Dictionary<string, NginxServer> servers, int port)
    {
        _servers = servers;
        Port = port;
    }

    public int Port { get; }

    public NginxServer this[string server] => _servers[server];

    public string UrlTemplate => $"http://{{host}}:{Port}/.well-known/release";

    public static async Task<WebServers> StartAsync(DeployBed bed)
    {
        var targets = bed.Targets();
        var port = NginxServer.FreePortOnAll(targets.Select(t => t.Address).ToList());
        var started = await Task.WhenAll(targets.Select(async t =>
            (t.Name, Server: await NginxServer.StartAsync(new NginxOptions { Address = t.Address, Port = port, Root = bed.Current(t.Name) }))));
        return new WebServers(started.ToDictionary(s => s.Name, s => s.Server), port);
    }

    public HealthSettings Settings(TimeSpan? timeout = null, OnUnhealthy onUnhealthy = OnUnhealthy.SwitchBack, IReadOnlyList<string>? paths = null) => new()
    {
        Url = HealthUrl.From(new SettingValue(UrlTemplate, "--health-url")),
        Timeout = timeout ?? TimeSpan.FromSeconds(4),
        RequestTimeout = TimeSpan.FromSeconds(2),
        OnUnhealthy = onUnhealthy,
        Paths = paths ?? [],
    };

    public HealthGate Gate(TimeSpan? timeout = null, OnUnhealthy onUnhealthy = OnUnhealthy.SwitchBack, IReadOnlyList<string>? paths = null)
    {
        var settings = Settings(timeout, onUnhealthy, paths);
        return new HealthGate(settings, new HttpHealthProbe(null, null, settings.RequestTimeout), TimeProvider.System);
    }

    /// <summary>GET through the server's nginx: the status and body.</summary>
    public async Task<(int Status, string Body)> GetAsync(string server, string path)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await client.GetAsync(new Uri(_servers[server].BaseUrl, path));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var s in _servers.Values) await s.DisposeAsync();
    }
}
