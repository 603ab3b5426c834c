using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Build.Deployment.Health;

/// <summary>One answer of a web server: its status, the start of its body, and where a redirect pointed.</summary>
public sealed record ProbeResponse(int Status, string Body, string? Location = null);

/// <summary>One GET with the health check's headers. Connection errors and timeouts throw.</summary>
public interface IHealthProbe
{
    Task<ProbeResponse> GetAsync(Uri url, CancellationToken cancellationToken);
}

/// <summary>
/// The health check's HTTP client: <c>Cache-Control: no-cache</c>, <c>--health-host</c> as the Host header (which is
/// also the TLS server name and the name the certificate is checked against), no redirects followed (a redirect is an
/// answer to report, not to chase), no proxy from the environment; through the tailnet's SOCKS5 endpoint when SSH goes
/// that way. Bodies are read up to <see cref="MaxBody"/> bytes: a release id is 26.
/// </summary>
public sealed class HttpHealthProbe : IHealthProbe, IDisposable
{
    public const int MaxBody = 4096;

    private readonly HttpClient _client;
    private readonly string? _host;

    public HttpHealthProbe(string? host, DnsEndPoint? socks5, TimeSpan connectTimeout)
    {
        _host = host;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = connectTimeout,
            UseProxy = socks5 is not null,
            Proxy = socks5 is null ? null : new WebProxy($"socks5://{socks5.Host}:{socks5.Port}"),
            // A switch may change what a kept-alive connection's server serves; short-lived connections see it at once.
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2),
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public async Task<ProbeResponse> GetAsync(Uri url, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        request.Headers.Pragma.Add(new NameValueHeaderValue("no-cache"));
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("blog-deploy-health", "1"));
        if (_host is not null) request.Headers.Host = _host;
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[MaxBody];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
            if (read == 0) break;
            length += read;
        }
        return new ProbeResponse((int)response.StatusCode, Encoding.UTF8.GetString(buffer, 0, length), response.Headers.Location?.ToString());
    }

    public void Dispose() => _client.Dispose();
}
