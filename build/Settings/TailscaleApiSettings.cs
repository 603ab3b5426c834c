using Build.Output;

namespace Build.Settings;

/// <summary>
/// The Tailscale API as the after_script cleanup (ForgetNode) uses it: <c>--ts-api-url</c> (only when
/// given: otherwise a <c>baseURL</c> attribute on the secret decides), the deploy's OAuth client
/// (<c>TS_OAUTH_SECRET</c>, <c>TS_OAUTH_CLIENT_ID</c>; a path means the file's content), and retries.
/// </summary>
public sealed record TailscaleApiSettings : ISettingsGroup<TailscaleApiSettings>
{
    public const string DefaultUrl = "https://api.tailscale.com";

    public required string? ApiUrl { get; init; }
    public required string? Secret { get; init; }
    public required string? ClientId { get; init; }
    public required RetrySettings Retry { get; init; }

    public static TailscaleApiSettings From(SettingsSource source) => new()
    {
        ApiUrl = ApiUrlOf(source.Get("ts-api-url", "TS_API_URL")),
        Secret = source.Secret("TS_OAUTH_SECRET") is { } s ? SecretValue.Resolve(s.Value) : null,
        ClientId = source.Secret("TS_OAUTH_CLIENT_ID") is { } c ? SecretValue.Resolve(c.Value).Trim() : null,
        Retry = RetrySettings.From(source),
    };

    /// <summary>An http(s) URL, or null when not given.</summary>
    public static string? ApiUrlOf(SettingValue? value) =>
        value is null || value.Value.Length == 0 ? null
        : Uri.TryCreate(value.Value, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" ? value.Value
        : throw Parse.Error(value, "not an http(s) URL", $"Give the API base such as {DefaultUrl}.");
}
