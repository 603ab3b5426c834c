using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Build.Site;

/// <summary>
/// What the build's site check found, for the deploy job: the checked site's manifest hash (content and
/// modes of every file, as the release id uses it), the rules it was checked by (the site's url, root and
/// feeds, and the checker's version), and the result. <c>Build</c> writes it to
/// <c>artifacts/site-check.json</c>, outside the site so it is never deployed; it travels in the build
/// job's artifact, and <c>Deploy --site-dir</c> trusts a record that matches the site it is about to
/// send instead of checking every page again.
/// </summary>
public sealed record SiteCheckRecord(
    [property: JsonPropertyName("format")] int Format,
    [property: JsonPropertyName("manifest")] string ManifestHash,
    [property: JsonPropertyName("rules")] string RulesHash,
    [property: JsonPropertyName("succeeded")] bool Succeeded,
    [property: JsonPropertyName("pages")] int Pages,
    [property: JsonPropertyName("files")] int Files,
    [property: JsonPropertyName("links")] int LinksChecked,
    [property: JsonPropertyName("checked")] DateTimeOffset CheckedAt)
{
    public const int CurrentFormat = 1;

    /// <summary>Bumped whenever the checker would judge a site differently: a record by an older checker is not trusted.</summary>
    public const string CheckerVersion = "links-2";

    public const string FileName = "site-check.json";

    public static string PathIn(string artifacts) => System.IO.Path.Join(artifacts, FileName);

    public static SiteCheckRecord From(LinkCheckResult result, string manifestHash, SiteConfig config, DateTimeOffset now) =>
        new(CurrentFormat, manifestHash, RulesOf(config), result.Succeeded, result.Pages, result.Files, result.LinksChecked, now);

    /// <summary>What decides a check's result besides the files: the checker and the site's configuration.</summary>
    public static string RulesOf(SiteConfig config)
    {
        var rules = new StringBuilder()
            .Append(CheckerVersion).Append('\n')
            .Append(config.Url.AbsoluteUri).Append('\n')
            .Append(config.Root).Append('\n');
        foreach (var feed in config.Feeds) rules.Append(feed.Type).Append(' ').Append(feed.Path).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(rules.ToString())));
    }

    /// <summary>Whether this record vouches for a site with <paramref name="manifestHash"/> checked by <paramref name="config"/>'s rules.</summary>
    public bool Vouches(string manifestHash, SiteConfig config) =>
        Format == CurrentFormat && Succeeded
        && string.Equals(ManifestHash, manifestHash, StringComparison.Ordinal)
        && string.Equals(RulesHash, RulesOf(config), StringComparison.Ordinal);

    public async Task WriteAsync(string path, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        // Written beside, then renamed: a reader never sees half a record.
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, JsonSerializer.Serialize(this, SiteCheckJson.Default.SiteCheckRecord) + "\n", cancellationToken);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The record at <paramref name="path"/>, or null when there is none or it does not parse (then the site is checked).</summary>
    public static async Task<SiteCheckRecord?> ReadAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path)) return null;
        try
        {
            // A record is a few hundred bytes; anything far larger is not one.
            if (new FileInfo(path).Length > 64 * 1024) return null;
            var record = JsonSerializer.Deserialize(await File.ReadAllTextAsync(path, cancellationToken), SiteCheckJson.Default.SiteCheckRecord);
            return record is { ManifestHash: { Length: 64 }, RulesHash: { Length: 64 } } ? record : null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

[JsonSerializable(typeof(SiteCheckRecord))]
internal sealed partial class SiteCheckJson : JsonSerializerContext;
