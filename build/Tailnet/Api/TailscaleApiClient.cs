using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Build.Tailnet.Api;

/// <summary>A device as the Tailscale API lists it (unknown fields ignored).</summary>
public sealed record ApiDevice
{
    /// <summary>The legacy numeric device id (still accepted by <c>/api/v2/device/{id}</c>).</summary>
    [JsonPropertyName("id")] public string? Id { get; init; }
    /// <summary>The stable node id (<c>n...CNTRL</c>), as <c>tailscale status --json</c> shows in <c>Self.ID</c>.</summary>
    [JsonPropertyName("nodeId")] public string? NodeId { get; init; }
    /// <summary>The MagicDNS name, <c>host.tailnet.ts.net</c>.</summary>
    [JsonPropertyName("name")] public string? Name { get; init; }
    /// <summary>The host name the node suggested (may repeat across nodes).</summary>
    [JsonPropertyName("hostname")] public string? Hostname { get; init; }
    [JsonPropertyName("tags")] public string[]? Tags { get; init; }
    [JsonPropertyName("created")] public string? Created { get; init; }

    /// <summary>The id to delete by: the stable node id, which the API prefers; the legacy id only when a listing lacks it.</summary>
    public string? DeleteId => string.IsNullOrEmpty(NodeId) ? Id : NodeId;
}

/// <summary>A failed API call. <see cref="Transient"/> failures (5xx, 429, 408) are worth retrying.</summary>
public sealed class TailscaleApiException(string message, HttpStatusCode? status, bool transient) : Exception(message)
{
    public HttpStatusCode? Status { get; } = status;
    public bool Transient { get; } = transient;

    /// <summary>What any Tailscale API call retries: no answer, an attempt's timeout, 5xx/429/408.</summary>
    public static bool IsTransient(Exception error) =>
        error is HttpRequestException or Polly.Timeout.TimeoutRejectedException or TailscaleApiException { Transient: true };
}

/// <summary>
/// The three Tailscale API calls the fallback cleanup makes: the OAuth client-credentials token
/// (<c>POST /api/v2/oauth/token</c>), the device list (<c>GET /api/v2/tailnet/-/devices</c>, "-"
/// being the OAuth client's own tailnet) and the delete (<c>DELETE /api/v2/device/{nodeId}</c>).
/// One attempt each: retries and time bounds are the caller's. Error messages carry the status and
/// the API's <c>message</c>, never a credential.
/// </summary>
public sealed class TailscaleApiClient(HttpClient http, Uri apiBase, OAuthClientKind? kind = null)
{
    private readonly OAuthClientKind _kind = kind ?? OAuthClientKind.Devices;

    public string Url(string path) => apiBase.AbsoluteUri.TrimEnd('/') + path;

    public async Task<string> GetTokenAsync(string clientId, string secret, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v2/oauth/token"))
        {
            Content = new FormUrlEncodedContent(
            [
                new("client_id", clientId),
                new("client_secret", secret),
                new("grant_type", "client_credentials"),
            ]),
        };
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode) throw Failure("token request", response.StatusCode, body, secret);
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.TryGetProperty("access_token", out var token) && token.GetString() is { Length: > 0 } value)
                return value;
        }
        catch (JsonException)
        {
        }
        throw new TailscaleApiException("token request: the answer holds no access_token.", response.StatusCode, transient: false);
    }

    public async Task<IReadOnlyList<ApiDevice>> ListDevicesAsync(string token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url("/api/v2/tailnet/-/devices"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode) throw Failure("device list", response.StatusCode, body, token);
        try
        {
            var list = JsonSerializer.Deserialize(body, TailscaleApiJson.Default.DeviceList);
            return list?.Devices ?? throw new JsonException("no \"devices\" array");
        }
        catch (JsonException e)
        {
            throw new TailscaleApiException($"device list: unexpected answer ({e.Message}).", response.StatusCode, transient: false);
        }
    }

    /// <summary>True when deleted, false when the device was already gone (404).</summary>
    public async Task<bool> DeleteDeviceAsync(string token, string deviceId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, Url("/api/v2/device/" + Uri.EscapeDataString(deviceId)));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode) throw Failure("device delete", response.StatusCode, body, token);
        return true;
    }

    /// <summary>A failed call: its status, the API's message (no credential), and a hint for 401/403 naming this client's variables and scope.</summary>
    public TailscaleApiException Failure(string what, HttpStatusCode status, string body, string credential)
    {
        var transient = (int)status >= 500 || status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout;
        var message = MessageOf(body);
        // The API does not echo credentials, but nothing read from the wire reaches the log unchecked.
        if (message is not null && credential.Length > 0) message = message.Replace(credential, "[MASKED]", StringComparison.Ordinal);
        var hint = status switch
        {
            HttpStatusCode.Unauthorized when _kind == OAuthClientKind.Devices => " Check TS_OAUTH_SECRET and TS_OAUTH_CLIENT_ID.",
            HttpStatusCode.Unauthorized => $" Check {_kind.SecretVariable} and {_kind.ClientIdVariable}: an OAuth client with the {_kind.Scope} scope.",
            HttpStatusCode.Forbidden => $" The OAuth client needs the {_kind.Scope} scope.",
            _ => "",
        };
        return new TailscaleApiException($"{what}: HTTP {(int)status} {status}{(message is null ? "" : ": " + message)}.{hint}", status, transient);
    }

    public static string? MessageOf(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                return Truncate(m.GetString()!);
        }
        catch (JsonException)
        {
        }
        return null;
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "...";

    internal sealed record DeviceList
    {
        [JsonPropertyName("devices")] public ApiDevice[]? Devices { get; init; }
    }
}

[JsonSerializable(typeof(TailscaleApiClient.DeviceList))]
internal sealed partial class TailscaleApiJson : JsonSerializerContext;
