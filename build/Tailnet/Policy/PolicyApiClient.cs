using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Build.Tailnet.Api;

namespace Build.Tailnet.Policy;

/// <summary>The tailnet's policy as the API returned it, and its ETag (for <c>If-Match</c>).</summary>
public sealed record CurrentPolicy(string Text, string ETag);

/// <summary>What the validate endpoint said: nothing (valid), or its message and each error and failed test.</summary>
public sealed record ValidationResult(string? Message, IReadOnlyList<string> Details)
{
    public bool Passed => Message is null;
}

/// <summary>The POST carried an ETag that no longer matches: someone changed the policy meanwhile (412).</summary>
public sealed class PolicyConflictException(string message) : Exception(message);

/// <summary>
/// The policy-file endpoints of the Tailscale API (api.md, "Policy File"): <c>GET /api/v2/tailnet/-/acl</c>
/// with <c>Accept: application/hujson</c> (comments survive) and its <c>ETag</c>; <c>POST .../acl/validate</c>
/// (200 even when tests fail: a <c>message</c> and <c>data[].errors</c> say so); <c>POST .../acl</c> with
/// <c>If-Match</c> (412 when the ETag is stale). One attempt each: retries are the caller's. The token comes
/// from <see cref="TailscaleApiClient.GetTokenAsync"/>, the one token request of the pipeline.
/// </summary>
public sealed class PolicyApiClient(HttpClient http, TailscaleApiClient api)
{
    private const string HuJsonType = "application/hujson";

    public async Task<CurrentPolicy> GetAsync(string token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, api.Url("/api/v2/tailnet/-/acl"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.ParseAdd(HuJsonType);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode) throw api.Failure("policy read", response.StatusCode, body, token);
        var etag = response.Headers.ETag?.ToString()
            ?? (response.Headers.TryGetValues("ETag", out var values) ? values.FirstOrDefault() : null);
        if (string.IsNullOrWhiteSpace(etag))
            throw new TailscaleApiException("policy read: the answer has no ETag, so a concurrent edit could not be detected.", response.StatusCode, transient: false);
        return new CurrentPolicy(body, etag);
    }

    public async Task<ValidationResult> ValidateAsync(string token, string policy, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, api.Url("/api/v2/tailnet/-/acl/validate")) { Content = HuJson(policy) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode) throw api.Failure("policy validate", response.StatusCode, body, token);
        if (string.IsNullOrWhiteSpace(body)) return new ValidationResult(null, []);
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException("not an object");
            var message = json.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String && m.GetString() is { Length: > 0 } text ? text : null;
            return new ValidationResult(message, Details(json.RootElement));
        }
        catch (JsonException)
        {
            throw new TailscaleApiException($"policy validate: the answer is not JSON ({Start(body)}).", response.StatusCode, transient: false);
        }
    }

    /// <summary>Replaces the policy if its ETag still is <paramref name="ifMatch"/>.</summary>
    public async Task SetAsync(string token, string policy, string ifMatch, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, api.Url("/api/v2/tailnet/-/acl")) { Content = HuJson(policy) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.ParseAdd("application/json");
        // The ETag goes back verbatim, quotes included, as the API documents.
        request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode == HttpStatusCode.PreconditionFailed)
            throw new PolicyConflictException("policy write: HTTP 412 Precondition Failed: the tailnet's policy changed since it was read (its ETag no longer matches); nothing was written. Run ApplyPolicy again to compare with the new version.");
        if (!response.IsSuccessStatusCode)
        {
            var failure = api.Failure("policy write", response.StatusCode, body, token);
            var details = DetailsOf(body);
            throw details.Count == 0 ? failure : new TailscaleApiException(failure.Message + " " + string.Join(" ", details), failure.Status, failure.Transient);
        }
    }

    private static StringContent HuJson(string policy)
    {
        var content = new StringContent(policy, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(HuJsonType);
        return content;
    }

    private static IReadOnlyList<string> DetailsOf(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object ? Details(json.RootElement) : [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    /// <summary><c>data: [{ "user": "tag:ci", "errors": [...], "warnings": [...] }]</c>, one line each.</summary>
    private static IReadOnlyList<string> Details(JsonElement root)
    {
        var lines = new List<string>();
        if (!root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array) return lines;
        foreach (var item in data.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object) continue;
            var who = item.TryGetProperty("user", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() + ": " : "";
            foreach (var kind in new[] { "errors", "warnings" })
            {
                if (!item.TryGetProperty(kind, out var list) || list.ValueKind != JsonValueKind.Array) continue;
                foreach (var entry in list.EnumerateArray())
                    lines.Add($"{(kind == "warnings" ? "warning: " : "")}{who}{(entry.ValueKind == JsonValueKind.String ? entry.GetString() : entry.GetRawText())}");
            }
        }
        return lines;
    }

    private static string Start(string body)
    {
        var line = body.Trim().Split('\n')[0];
        return line.Length <= 80 ? line : line[..80] + "...";
    }
}
