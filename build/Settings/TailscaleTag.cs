namespace Build.Settings;

/// <summary>
/// Tailscale's tag rules, as its CLI applies them to <c>--advertise-tags</c>: a tag without a colon
/// gets <c>tag:</c> in front; then tailcfg.CheckTag: lower-case <c>tag:</c>, a letter, then ASCII
/// letters, digits or dashes. Checked up front: the CLI and the control server refuse anything else.
/// </summary>
public static class TailscaleTag
{
    public const string Prefix = "tag:";

    /// <summary>A bare name becomes <c>tag:name</c>; anything with a colon is left for <see cref="Problem"/> to judge.</summary>
    public static string Normalize(string tag) => tag.Contains(':') ? tag : Prefix + tag;

    /// <summary>Why <paramref name="tag"/> is not a valid tag, or null when it is one.</summary>
    public static string? Problem(string tag)
    {
        if (!tag.StartsWith(Prefix, StringComparison.Ordinal))
            return "a tag must start with \"tag:\" in lower case";
        var name = tag[Prefix.Length..];
        if (name.Length == 0) return "the tag's name after \"tag:\" is empty";
        if (!char.IsAsciiLetter(name[0])) return "the tag's name must start with a letter after \"tag:\"";
        return name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')
            ? null
            : "the tag's name may hold only letters, digits and dashes";
    }

    /// <summary>
    /// The tags of a list setting, normalized and checked; a bad one is a <see cref="SettingsException"/>
    /// naming the setting and where its value came from.
    /// </summary>
    public static IReadOnlyList<string> List(IEnumerable<SettingValue> values)
    {
        var tags = new List<string>();
        foreach (var value in values)
        {
            foreach (var item in value.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var tag = Normalize(item);
                if (Problem(tag) is { } problem)
                    throw Parse.Error(value, $"\"{item}\" is not a valid tag: {problem}",
                        "Write each tag as tag:name (or just name), the name a letter followed by letters, digits or dashes, e.g. tag:ci.");
                if (!tags.Contains(tag, StringComparer.Ordinal)) tags.Add(tag);
            }
        }
        return tags;
    }
}
