using Build.Output;
using Build.Settings;
using Build.Tailnet.Api;

namespace Build.Tailnet.Policy;

/// <summary>
/// The policy targets' own settings (README's table): <c>--policy-file</c>/<c>TS_POLICY_FILE</c>,
/// <c>--policy-strict</c>/<c>TS_POLICY_STRICT</c>, <c>--policy-force</c>, and the policy OAuth client
/// (<c>TS_POLICY_OAUTH_SECRET</c>, <c>TS_POLICY_OAUTH_CLIENT_ID</c>), never the deploy's.
/// </summary>
public sealed record PolicySettings(string File, bool Strict, bool Force, string? Secret, string? ClientId, string? ApiUrl)
    : ISettingsGroup<PolicySettings>
{
    /// <summary>--retries and --retry-delay for the policy API calls.</summary>
    public RetrySettings Retry { get; init; } = new(3, TimeSpan.FromSeconds(2));

    public static PolicySettings From(SettingsSource source) => Resolve(source, source.Root);

    public const string DefaultFile = "tailnet/policy.hujson";

    public static PolicySettings Resolve(SettingsSource source, string root)
    {
        var file = source.Get("policy-file", "TS_POLICY_FILE")?.Value is { Length: > 0 } f ? f : DefaultFile;
        return new PolicySettings(
            Path.GetFullPath(Paths.ExpandHome(file), root),
            source.Get("policy-strict", "TS_POLICY_STRICT") is { } strict && Parse.Flag(strict),
            source.Get("policy-force") is { } force && Parse.Flag(force),
            source.Secret(OAuthClientKind.Policy.SecretVariable) is { } s ? SecretValue.Resolve(s.Value).Trim() : null,
            source.Secret(OAuthClientKind.Policy.ClientIdVariable) is { } c ? SecretValue.Resolve(c.Value).Trim() : null,
            // Only when given: a baseURL attribute on the secret decides otherwise.
            TailscaleApiSettings.ApiUrlOf(source.Get("ts-api-url", "TS_API_URL")))
        {
            Retry = RetrySettings.From(source),
        };
    }

    /// <summary>The policy OAuth client, or null with the reason.</summary>
    public OAuthCredentials? Credentials(out string? problem) =>
        OAuthCredentials.Resolve(OAuthClientKind.Policy, Secret, ClientId, ApiUrl, out problem);
}
