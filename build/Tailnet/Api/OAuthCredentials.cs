namespace Build.Tailnet.Api;

/// <summary>
/// Which OAuth client: the variables that hold it and the scope it needs. The deploy's cleanup and the
/// policy targets use separate clients, so that neither holds the other's power.
/// </summary>
public sealed record OAuthClientKind(string SecretVariable, string ClientIdVariable, string Scope)
{
    public static readonly OAuthClientKind Devices = new("TS_OAUTH_SECRET", "TS_OAUTH_CLIENT_ID", "devices:core");
    public static readonly OAuthClientKind Policy = new("TS_POLICY_OAUTH_SECRET", "TS_POLICY_OAUTH_CLIENT_ID", "policy_file");
}

/// <summary>
/// What the fallback cleanup needs to call the Tailscale API: the OAuth client's id and secret
/// and the API base. The secret may carry <c>?attributes</c> (copied from the old recipe, e.g.
/// <c>?ephemeral=true&amp;preauthorized=true</c>): they are stripped, and a <c>baseURL</c>
/// attribute sets the API base unless <c>TS_API_URL</c>/<c>--ts-api-url</c> is given.
/// </summary>
public sealed record OAuthCredentials(string ClientId, string Secret, Uri ApiBase)
{
    public static readonly Uri DefaultApiBase = new("https://api.tailscale.com");

    /// <summary>Never prints the secret.</summary>
    public override string ToString() => $"OAuth client {ClientId} at {ApiBase}";

    /// <summary>The credentials, or null with the reason they cannot be formed (a warning, never an error: the cleanup is best effort).</summary>
    public static OAuthCredentials? Resolve(string? secretValue, string? clientId, string? explicitApiUrl, out string? problem) =>
        Resolve(OAuthClientKind.Devices, secretValue, clientId, explicitApiUrl, out problem);

    public static OAuthCredentials? Resolve(OAuthClientKind kind, string? secretValue, string? clientId, string? explicitApiUrl, out string? problem)
    {
        problem = null;
        var (secretVariable, clientIdVariable) = (kind.SecretVariable, kind.ClientIdVariable);
        var raw = secretValue?.Trim();
        if (string.IsNullOrEmpty(raw))
        {
            problem = kind == OAuthClientKind.Devices
                ? "TS_OAUTH_SECRET is not set, so the node cannot be removed through the Tailscale API. Set TS_OAUTH_SECRET (an OAuth client with the devices:core scope) and TS_OAUTH_CLIENT_ID."
                : $"{secretVariable} is not set: set it and {clientIdVariable} (an OAuth client with the {kind.Scope} scope).";
            return null;
        }
        var question = raw.IndexOf('?');
        var secret = question >= 0 ? raw[..question] : raw;
        var attributes = question >= 0 ? ParseAttributes(raw[(question + 1)..]) : new Dictionary<string, string>();
        if (secret.StartsWith("tskey-auth-", StringComparison.Ordinal))
        {
            problem = $"{secretVariable} holds an auth key (tskey-auth-...), not an OAuth client secret (tskey-client-...): an auth key cannot call the Tailscale API.";
            return null;
        }
        if (secret.Length == 0)
        {
            problem = $"{secretVariable} is empty before its '?attributes'.";
            return null;
        }

        Uri? apiBase;
        if (!string.IsNullOrWhiteSpace(explicitApiUrl))
        {
            if (!TryHttpUrl(explicitApiUrl, out apiBase))
            {
                problem = $"TS_API_URL (or --ts-api-url) = \"{explicitApiUrl}\" is not an http(s) URL. Give the API base such as https://api.tailscale.com.";
                return null;
            }
        }
        else if (attributes.TryGetValue("baseURL", out var fromSecret))
        {
            if (!TryHttpUrl(fromSecret, out apiBase))
            {
                problem = $"the baseURL attribute of {secretVariable} is not an http(s) URL.";
                return null;
            }
        }
        else
        {
            apiBase = DefaultApiBase;
        }

        var id = string.IsNullOrWhiteSpace(clientId) ? ClientIdOf(secret) : clientId.Trim();
        if (id is null)
        {
            problem = $"{clientIdVariable} is not set and the secret does not name its client. Set {clientIdVariable} to the OAuth client's id.";
            return null;
        }
        return new OAuthCredentials(id, secret, apiBase!);
    }

    /// <summary>
    /// A client secret reads <c>tskey-client-&lt;client id&gt;-&lt;random&gt;</c>; Tailscale identifies
    /// the client by its secret (its own CLI sends a placeholder id), so the embedded id serves
    /// when <c>TS_OAUTH_CLIENT_ID</c> is not set.
    /// </summary>
    public static string? ClientIdOf(string secret)
    {
        const string prefix = "tskey-client-";
        if (!secret.StartsWith(prefix, StringComparison.Ordinal)) return null;
        var rest = secret[prefix.Length..];
        var dash = rest.IndexOf('-');
        return dash > 0 ? rest[..dash] : null;
    }

    private static Dictionary<string, string> ParseAttributes(string query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString(eq >= 0 ? pair[..eq] : pair);
            var value = eq >= 0 ? Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' ')) : "";
            result[key] = value;
        }
        return result;
    }

    private static bool TryHttpUrl(string text, out Uri? uri) =>
        Uri.TryCreate(text.Trim(), UriKind.Absolute, out uri) && uri.Scheme is "http" or "https";
}
