namespace Build.Output;

/// <summary>
/// Replaces secret values in text. Built once at start-up from the secret variables (and a
/// file-held secret's content) so every line the pipeline writes can pass through it.
/// </summary>
public sealed class Redactor
{
    public const string Mask = "[MASKED]";

    /// <summary>Variables whose values are secrets; children that need none get an environment without them.</summary>
    public static readonly IReadOnlyList<string> SecretVariables =
    [
        "TS_OAUTH_SECRET", "TS_AUTHKEY", "TS_OAUTH_CLIENT_ID", "TS_POLICY_OAUTH_SECRET", "TS_POLICY_OAUTH_CLIENT_ID",
        "SSH_PRIVATE_KEY", "SSH_KEY_PASSPHRASE",
        "CI_REGISTRY_PASSWORD", "CI_JOB_TOKEN", "DOCKER_PASSWORD",
    ];

    // Longest first, so a secret that contains another is masked whole.
    private readonly string[] _values;

    public Redactor(IEnumerable<string> secrets)
    {
        _values = secrets
            .SelectMany(Fragments)
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(v => v.Length)
            .ToArray();
    }

    public static Redactor None { get; } = new([]);

    /// <summary>Every secret variable's value, and the content of a file it names.</summary>
    public static Redactor FromEnvironment(Func<string, string?> environment)
    {
        var secrets = new List<string>();
        foreach (var name in SecretVariables)
        {
            var value = environment(name);
            if (string.IsNullOrWhiteSpace(value)) continue;
            secrets.Add(value);
            if (SecretValue.TryReadFile(value, out var content)) secrets.Add(content);
        }
        return new Redactor(secrets);
    }

    public string Redact(string text)
    {
        if (_values.Length == 0 || string.IsNullOrEmpty(text)) return text;
        foreach (var value in _values)
        {
            if (text.Contains(value, StringComparison.Ordinal)) text = text.Replace(value, Mask, StringComparison.Ordinal);
        }
        return text;
    }

    // Output is redacted a line at a time, so a multi-line secret (a private key) is masked line
    // by line; an OAuth secret is also masked without its "?attributes". Short fragments are
    // left out: masking "-----" everywhere would hide nothing and garble the log.
    private static IEnumerable<string> Fragments(string secret)
    {
        var trimmed = secret.Trim();
        if (trimmed.Length >= 4) yield return trimmed;
        var query = trimmed.IndexOf('?');
        if (query >= 8) yield return trimmed[..query];
        foreach (var line in trimmed.Split('\n'))
        {
            var l = line.Trim('\r', ' ', '\t');
            if (l.Length >= 8 && !l.StartsWith("-----", StringComparison.Ordinal)) yield return l;
        }
    }
}
