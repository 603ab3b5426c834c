using Build.Output;
using Build.Settings;

namespace Build.Tailnet;

public enum AuthKeyKind { OAuthClientSecret, AuthKey }

/// <summary>
/// The tailnet secret from <c>TS_OAUTH_SECRET</c> or <c>TS_AUTHKEY</c>, validated and made ready for
/// the <c>file:</c> key. Its value never appears in a message, not even in part.
/// </summary>
public sealed class AuthKey
{
    public const string ClientPrefix = "tskey-client-";
    public const string AuthPrefix = "tskey-auth-";

    // The attributes tailscale's CLI accepts on an OAuth client secret; any other is an error there.
    private static readonly string[] KnownAttributes = ["ephemeral", "preauthorized", "baseURL"];

    private AuthKey(AuthKeyKind kind, string fileContent, Uri? baseUrl)
    {
        Kind = kind;
        FileContent = fileContent;
        BaseUrl = baseUrl;
    }

    public AuthKeyKind Kind { get; }

    /// <summary>What goes into the key file: the key, for a client secret with its merged attributes.</summary>
    internal string FileContent { get; }

    /// <summary>A <c>baseURL</c> attribute carried by the client secret (the API base for the fallback cleanup).</summary>
    public Uri? BaseUrl { get; }

    public override string ToString() => Kind == AuthKeyKind.OAuthClientSecret ? "OAuth client secret" : "auth key";

    /// <summary>
    /// Validates the secret's form (a value naming an existing file means its content) and, for an
    /// OAuth client secret, merges <c>ephemeral=true&amp;preauthorized=true</c> into its attributes.
    /// </summary>
    public static AuthKey Parse(SettingValue secret)
    {
        var text = SecretValue.Resolve(secret.Value).Trim();
        string Where() => secret.Origin;

        if (text.Length == 0)
            throw new SettingsException($"{Where()} is empty. Set it to an OAuth client secret (tskey-client-...) or an auth key (tskey-auth-...).");
        if (text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new SettingsException($"{Where()} contains whitespace or more than one line. It must hold exactly one key (tskey-client-... or tskey-auth-...): check the variable's value or the file it names.");

        var query = text.IndexOf('?');
        var key = query < 0 ? text : text[..query];
        var attributes = query < 0 ? "" : text[(query + 1)..];

        if (key.StartsWith(AuthPrefix, StringComparison.Ordinal) && key.Length > AuthPrefix.Length)
        {
            if (query >= 0)
                throw new SettingsException($"{Where()} is an auth key (tskey-auth-...) followed by \"?attributes\": only OAuth client secrets (tskey-client-...) take attributes. Remove everything from the \"?\" on.");
            return new AuthKey(AuthKeyKind.AuthKey, key, null);
        }
        if (!key.StartsWith(ClientPrefix, StringComparison.Ordinal) || key.Length == ClientPrefix.Length)
            throw new SettingsException($"{Where()} does not look like a Tailscale secret: it must start with {ClientPrefix} (OAuth client secret) or {AuthPrefix} (auth key). Copy the secret again from the Tailscale admin console (Settings → OAuth clients, or Keys).");

        var merged = MergeAttributes(attributes, Where(), out var baseUrl);
        return new AuthKey(AuthKeyKind.OAuthClientSecret, key + "?" + merged, baseUrl);
    }

    /// <summary>
    /// <c>ephemeral=true&amp;preauthorized=true</c> merged into the attributes a secret already carries
    /// (a secret copied from the old recipe may end in <c>?...</c>); <c>baseURL</c> is kept.
    /// </summary>
    internal static string MergeAttributes(string attributes, string origin, out Uri? baseUrl)
    {
        baseUrl = null;
        if (attributes.Contains('?'))
            throw new SettingsException($"{origin} has more than one \"?\" in it. Write the OAuth client secret once, optionally followed by one \"?name=value&...\".");
        var values = new List<KeyValuePair<string, string>>();
        foreach (var pair in attributes.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var name = eq < 0 ? pair : pair[..eq];
            var value = eq < 0 ? "" : pair[(eq + 1)..];
            if (!KnownAttributes.Contains(name, StringComparer.Ordinal))
                throw new SettingsException($"{origin} carries the attribute \"{name}\", which tailscale does not accept (allowed: {string.Join(", ", KnownAttributes)}). Remove it from the secret.");
            if (name == "baseURL")
            {
                var url = Uri.UnescapeDataString(value);
                if (!Uri.TryCreate(url, UriKind.Absolute, out baseUrl) || baseUrl.Scheme is not ("https" or "http"))
                    throw new SettingsException($"{origin} has a baseURL attribute that is not an http(s) URL. Fix or remove the \"baseURL=...\" attribute.");
            }
            values.RemoveAll(v => v.Key == name);
            values.Add(new(name, value));
        }
        // A CI node is always ephemeral and needs no manual approval, whatever the copied secret said.
        Set("ephemeral", "true");
        Set("preauthorized", "true");
        var ordered = values.OrderBy(v => Array.IndexOf(KnownAttributes, v.Key));
        return string.Join('&', ordered.Select(v => $"{v.Key}={v.Value}"));

        void Set(string name, string value)
        {
            values.RemoveAll(v => v.Key == name);
            values.Add(new(name, value));
        }
    }
}
