using Build.Settings;

namespace Build.Tailnet;

/// <summary>A failure worth another attempt: daemon not ready, timeouts, control-plane connection errors.</summary>
public sealed class TransientTailnetException(string message, Exception? inner = null) : PipelineException(message, ExitCodes.TaskFailed, inner);

/// <summary>
/// Sorts a failed <c>tailscale up</c> into permanent (exit 2 at once, with cause and fix) or
/// transient (retried). Messages follow tailscale's CLI and control server.
/// </summary>
public static class UpErrors
{
    private sealed record Rule(string[] AllOf, string Cause, string Fix);

    private static readonly Rule[] Permanent =
    [
        new(["oauth authkeys require --advertise-tags"],
            "an OAuth client secret needs tags for the node it creates",
            "give --ts-tags (or TS_TAGS), e.g. --ts-tags=tag:ci, with tags the OAuth client carries"),
        new(["requested tags"],
            "the control server refused the tags the node asked for",
            "the OAuth client must carry the tag (Tailscale admin console → Settings → OAuth clients) and the policy file's tagOwners must list it, e.g. \"tagOwners\": {\"tag:ci\": [\"autogroup:admin\"]}; or change --ts-tags"),
        // tailscale's OAuth key resolution (feature/oauthkey) refusing the secret's "?name=value" part.
        new(["unknown attribute"],
            "the OAuth client secret carries an attribute tailscale does not know",
            "set TS_OAUTH_SECRET to the plain secret (tskey-client-...): the pipeline adds ephemeral and preauthorized itself; only baseURL may follow a '?'"),
        new(["invalid attribute boolean attribute"],
            "an attribute of the OAuth client secret is not true or false",
            "set TS_OAUTH_SECRET to the plain secret (tskey-client-...): the pipeline adds ephemeral and preauthorized itself"),
        // The CLI's own tag check (tailcfg.CheckTag), should a tag ever reach it unchecked.
        new(["tags must start with"],
            "a tag is not of the form tag:name",
            "write each tag in --ts-tags (or TS_TAGS) as tag:name, in lower case, e.g. tag:ci"),
        new(["tag names"],
            "a tag name is empty or has characters tailscale does not allow",
            "write each tag in --ts-tags (or TS_TAGS) as tag: followed by a letter, then letters, digits or dashes"),
        new(["invalid_client"],
            "the OAuth client secret was rejected (revoked, or the wrong secret)",
            "create a new OAuth client secret and store it in TS_OAUTH_SECRET"),
        new(["does not have enough permissions"],
            "the OAuth client lacks the auth_keys scope",
            "give the OAuth client the Keys → Auth Keys write scope (auth_keys), then use its new secret"),
        new(["missing", "scope"],
            "the OAuth client lacks the auth_keys scope",
            "give the OAuth client the Keys → Auth Keys write scope (auth_keys), then use its new secret"),
        new(["insufficient", "scope"],
            "the OAuth client lacks the auth_keys scope",
            "give the OAuth client the Keys → Auth Keys write scope (auth_keys), then use its new secret"),
        new(["key", "expired"],
            "the auth key has expired",
            "create a new auth key (or use an OAuth client secret in TS_OAUTH_SECRET, which does not expire) and update the CI variable"),
        new(["invalid key"],
            "the auth key is invalid (revoked, deleted, or mistyped)",
            "create a new key or OAuth client secret and update TS_OAUTH_SECRET / TS_AUTHKEY"),
        new(["key", "revoked"],
            "the auth key was revoked",
            "create a new key or OAuth client secret and update TS_OAUTH_SECRET / TS_AUTHKEY"),
        new(["key", "does not exist"],
            "the auth key is unknown to the control server",
            "create a new key or OAuth client secret and update TS_OAUTH_SECRET / TS_AUTHKEY"),
        new(["not a valid auth key"],
            "the auth key is invalid",
            "create a new key or OAuth client secret and update TS_OAUTH_SECRET / TS_AUTHKEY"),
        new(["unauthorized"],
            "the control server refused the credentials",
            "check that TS_OAUTH_SECRET / TS_AUTHKEY holds a current secret of this tailnet"),
    ];

    /// <summary>The exception for a failed <c>up</c>: <see cref="SettingsException"/> (permanent) or <see cref="TransientTailnetException"/>.</summary>
    public static PipelineException Classify(string output, int exitCode)
    {
        var text = output.Trim();
        foreach (var rule in Permanent)
        {
            if (rule.AllOf.All(part => text.Contains(part, StringComparison.OrdinalIgnoreCase)))
                return new SettingsException($"tailscale up failed: {rule.Cause}. Fix: {rule.Fix}. (tailscale said: {Last(text)})");
        }
        return new TransientTailnetException($"tailscale up failed (exit {exitCode}): {Last(text)}");
    }

    public static bool IsPermanent(PipelineException e) => e is SettingsException;

    private static string Last(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(no output)" : string.Join(" | ", lines.TakeLast(3));
    }
}
