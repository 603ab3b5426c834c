using System.Text.RegularExpressions;

namespace Build.Deployment.Release;

/// <summary>
/// A release id, <c>yyyyMMddTHHmmssZ-xxxxxxxx</c> (UTC time, then 8 hex digits of the manifest hash): the only
/// release name that goes on a remote command line, so its rule lives here once.
/// </summary>
public readonly partial record struct ReleaseId
{
    private readonly string? _value;

    private ReleaseId(string value) => _value = value;

    public string Value => _value ?? throw new InvalidOperationException("an empty ReleaseId");

    public static bool IsValid(string? text) => text is not null && Pattern().IsMatch(text);

    /// <summary>The id, or null when <paramref name="text"/> is not one.</summary>
    public static ReleaseId? TryParse(string? text) => IsValid(text) ? new ReleaseId(text!) : null;

    /// <summary>The id; a text that is not one is a programming error here (settings check theirs with <see cref="TryParse"/>).</summary>
    public static ReleaseId Parse(string text) =>
        TryParse(text) ?? throw new ArgumentException($"not a release id: {ServerText.Clean(text, 100)}", nameof(text));

    public static implicit operator string(ReleaseId id) => id.Value;

    public override string ToString() => Value;

    [GeneratedRegex("^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$")]
    private static partial Regex Pattern();
}
