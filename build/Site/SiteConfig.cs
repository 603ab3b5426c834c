using Build.Settings;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Build.Site;

/// <summary>One feed the site publishes: its path below the site root and its type (atom or rss2).</summary>
public sealed record FeedInfo(string Path, string Type);

/// <summary>
/// The few keys of Hexo's <c>_config.yml</c> the checks need: where the site lives (<c>url</c>,
/// <c>root</c>) and which feeds it publishes (<c>feed.type</c>, <c>feed.path</c>).
/// </summary>
public sealed record SiteConfig
{
    /// <summary>The site's public address, e.g. <c>https://blog.example.com</c> (Hexo's <c>url</c>).</summary>
    public required Uri Url { get; init; }

    /// <summary>The site's path on its host, starting and ending with '/' (Hexo's <c>root</c>).</summary>
    public required string Root { get; init; }

    public required IReadOnlyList<FeedInfo> Feeds { get; init; }

    /// <summary>Hexo's and hexo-generator-feed's own defaults.</summary>
    public static SiteConfig Default { get; } = new()
    {
        Url = new Uri("http://example.com/"),
        Root = "/",
        Feeds = [new FeedInfo("atom.xml", "atom")],
    };

    public static SiteConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new SettingsException($"The Hexo configuration {path} does not exist. The site's url, root and feed are read from it: restore it from git.");
        try
        {
            return Parse(File.ReadAllText(path), path);
        }
        catch (YamlException e)
        {
            throw new SettingsException($"{path} is not valid YAML (line {e.Start.Line}): {e.Message}. Fix the file; Hexo would fail on it too.", e);
        }
    }

    public static SiteConfig Parse(string yaml, string source = "_config.yml")
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var map = stream.Documents.FirstOrDefault()?.RootNode as YamlMappingNode;

        var urlText = Scalar(map, "url") ?? Default.Url.OriginalString;
        if (!Uri.TryCreate(urlText, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            throw new SettingsException($"url in {source} is '{urlText}': it must be an absolute http(s) address such as https://blog.example.com.");

        // Hexo: "If your website is in a subdirectory (such as http://example.org/blog) set url to
        // http://example.org/blog and set root to /blog/." Without root, Hexo uses '/'.
        var root = Scalar(map, "root") is { Length: > 0 } r ? r : "/";
        root = "/" + root.Trim('/') + "/";
        if (root == "//") root = "/";

        var feed = map is not null && map.Children.TryGetValue(new YamlScalarNode("feed"), out var f) ? f as YamlMappingNode : null;
        var types = List(feed, "type") is { Count: > 0 } t ? t : ["atom"];
        var paths = List(feed, "path");
        var feeds = types.Select((type, i) => new FeedInfo(
                (i < paths.Count ? paths[i] : type == "rss2" ? "rss2.xml" : "atom.xml").TrimStart('/'),
                type))
            .ToArray();

        return new SiteConfig { Url = url, Root = root, Feeds = feeds };
    }

    private static string? Scalar(YamlMappingNode? map, string key) =>
        map is not null && map.Children.TryGetValue(new YamlScalarNode(key), out var node) && node is YamlScalarNode { Value: { } value }
            ? value.Trim()
            : null;

    private static List<string> List(YamlMappingNode? map, string key)
    {
        if (map is null || !map.Children.TryGetValue(new YamlScalarNode(key), out var node)) return [];
        return node switch
        {
            YamlScalarNode { Value: { Length: > 0 } v } => [v.Trim()],
            YamlSequenceNode seq => seq.Children.OfType<YamlScalarNode>().Select(s => s.Value?.Trim() ?? "").Where(s => s.Length > 0).ToList(),
            _ => [],
        };
    }
}
