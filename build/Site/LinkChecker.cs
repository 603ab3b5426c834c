using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using Microsoft.Win32.SafeHandles;

namespace Build.Site;

/// <summary>An internal link that does not resolve to a file of the site.</summary>
/// <param name="Page">The page (or feed) holding the link, relative to the site directory.</param>
/// <param name="Link">The link as written in the page.</param>
/// <param name="LookedFor">The file the link was resolved to, relative to the site directory, or why it could not be.</param>
public sealed record BrokenLink(string Page, string Link, string LookedFor)
{
    public override string ToString() => $"{Page}: {Link} (looked for {LookedFor})";
}

public sealed record LinkCheckResult(
    IReadOnlyList<BrokenLink> BrokenLinks,
    IReadOnlyList<string> SiteProblems,
    int Pages,
    int Files,
    int LinksChecked,
    int ExternalLinks,
    TimeSpan Elapsed)
{
    public bool Succeeded => BrokenLinks.Count == 0 && SiteProblems.Count == 0;

    public override string ToString() =>
        $"{Pages} pages, {Files} files, {LinksChecked} internal links checked ({ExternalLinks} external ignored), " +
        $"{BrokenLinks.Count} broken, in {Elapsed.TotalSeconds:0.00} s";
}

/// <summary>
/// Checks a generated site: every internal <c>href</c>, <c>src</c> and <c>srcset</c> entry of every
/// HTML page must resolve to a file; the home page and the feeds must exist and the feeds must parse.
/// Pages are read in parallel and scanned by <see cref="HtmlLinkExtractor"/> (no document tree).
/// </summary>
/// <remarks>
/// A link is internal when it is relative, root-relative, or absolute under the site's <c>url</c>.
/// Links resolve as a browser would (against the page's address, or a <c>&lt;base&gt;</c>), then the
/// site's <c>root</c> is stripped and the path percent-decoded; <c>dir/</c> means <c>dir/index.html</c>,
/// and <c>dir</c> is accepted when <c>dir/index.html</c> exists (web servers redirect it to <c>dir/</c>).
/// Fragments and queries are ignored, and so are other schemes (mailto:, data:, javascript:, ...).
/// </remarks>
public sealed partial class LinkChecker(string siteDirectory, SiteConfig config, TimeProvider? timeProvider = null)
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    // The site's root address: relative and root-relative links resolve against pages under it.
    private readonly Uri _siteBase = new(config.Url.GetLeftPart(UriPartial.Authority) + config.Root);

    public string SiteDirectory { get; } = Path.GetFullPath(siteDirectory);

    public Task<LinkCheckResult> CheckAsync(CancellationToken cancellationToken) =>
        Task.Run(() => Check(cancellationToken), cancellationToken);

    public LinkCheckResult Check(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        if (!Directory.Exists(SiteDirectory))
            throw new DirectoryNotFoundException($"The site directory {SiteDirectory} does not exist.");

        // One listing of the whole tree: every lookup after this is in memory.
        var files = Directory
            .EnumerateFiles(SiteDirectory, "*", new EnumerationOptions
            {
                RecurseSubdirectories = true,
                AttributesToSkip = 0, // dot-files such as .well-known/ are part of a site
                IgnoreInaccessible = true,
            })
            .Select(f => Path.GetRelativePath(SiteDirectory, f).Replace('\\', '/'))
            .ToHashSet(StringComparer.Ordinal);
        var pages = files
            .Where(f => f.EndsWith(".html", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".htm", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToArray();

        var broken = new List<BrokenLink>();
        var problems = new List<string>();
        int checkedLinks = 0, external = 0;

        Parallel.ForEach(
            pages,
            new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount },
            () => new PageScan(this, files),
            (page, _, scan) =>
            {
                scan.Scan(page);
                return scan;
            },
            scan =>
            {
                lock (broken)
                {
                    broken.AddRange(scan.Broken);
                    checkedLinks += scan.Checked;
                    external += scan.External;
                }
            });

        if (!files.Contains("index.html"))
            problems.Add($"The home page index.html is missing from {SiteDirectory}.");

        foreach (var feed in config.Feeds)
        {
            var scan = new PageScan(this, files);
            problems.AddRange(CheckFeed(feed, scan));
            broken.AddRange(scan.Broken);
            checkedLinks += scan.Checked;
            external += scan.External;
        }

        var sorted = broken
            .Distinct()
            .OrderBy(b => b.Page, StringComparer.Ordinal)
            .ThenBy(b => b.Link, StringComparer.Ordinal)
            .ToArray();
        return new LinkCheckResult(sorted, problems, pages.Length, files.Count, checkedLinks, external, _time.GetElapsedTime(started));
    }

    private IEnumerable<string> CheckFeed(FeedInfo feed, PageScan scan)
    {
        if (!scan.Files.Contains(feed.Path))
        {
            yield return $"The {feed.Type} feed {feed.Path} is missing from {SiteDirectory} (feed.path in _config.yml; hexo-generator-feed writes it).";
            yield break;
        }

        XDocument document;
        string? error = null;
        try
        {
            using var reader = XmlReader.Create(Path.Join(SiteDirectory, feed.Path), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit });
            document = XDocument.Load(reader);
        }
        catch (XmlException e)
        {
            document = new XDocument();
            error = $"The feed {feed.Path} is not well-formed XML: {e.Message}";
        }
        if (error is not null)
        {
            yield return error;
            yield break;
        }

        XNamespace atom = "http://www.w3.org/2005/Atom";
        var root = document.Root!;
        if (feed.Type == "rss2")
        {
            if (root.Name != "rss")
            {
                yield return $"The feed {feed.Path} should be RSS 2.0 but its root element is <{root.Name.LocalName}>.";
                yield break;
            }
            foreach (var link in root.Descendants("link")) scan.CheckLink(feed.Path, link.Value, absoluteBase: null);
        }
        else
        {
            if (root.Name != atom + "feed")
            {
                yield return $"The feed {feed.Path} should be Atom but its root element is <{root.Name.LocalName}> in namespace '{root.Name.NamespaceName}'.";
                yield break;
            }
            foreach (var link in root.Descendants(atom + "link"))
                if (link.Attribute("href")?.Value is { } href) scan.CheckLink(feed.Path, href, absoluteBase: null);
        }
    }

    /// <summary>How a link resolved: what it counts as, and for a broken one the file looked for (or why not).</summary>
    private readonly record struct Resolution(LinkKind Kind, string? LookedFor = null);

    private enum LinkKind
    {
        Ignored,
        External,
        Found,
        Broken,
        Invalid,
    }

    /// <summary>Per-thread state: a read buffer, resolved links, and the findings of the pages this thread scanned.</summary>
    private sealed class PageScan(LinkChecker checker, HashSet<string> files)
    {
        // Links that do not depend on the page (root-relative or absolute) repeat on every page: menus, styles, tags.
        private readonly Dictionary<string, Resolution> _resolved = new(StringComparer.Ordinal);
        private readonly List<PageLink> _links = [];
        private byte[] _buffer = new byte[64 * 1024];

        public HashSet<string> Files { get; } = files;
        public List<BrokenLink> Broken { get; } = [];
        public int Checked { get; private set; }
        public int External { get; private set; }

        public void Scan(string page)
        {
            var length = Read(Path.Join(checker.SiteDirectory, page));
            _links.Clear();
            var baseHref = HtmlLinkExtractor.Extract(_buffer.AsSpan(0, length), _links);

            var pageUri = checker.AddressOf(page);
            var sharedResolutions = true;
            if (baseHref is not null && Uri.TryCreate(pageUri, baseHref.Trim(), out var based))
            {
                pageUri = based;
                sharedResolutions = false; // a base on another host would resolve root-relative links elsewhere
            }

            foreach (var link in _links)
            {
                if (link.Attribute == LinkAttribute.Srcset)
                    foreach (var candidate in SrcsetUrls(link.Value)) CheckLink(page, candidate, pageUri, sharedResolutions);
                else
                    CheckLink(page, link.Value, pageUri, sharedResolutions);
            }
        }

        private int Read(string path)
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            var size = RandomAccess.GetLength(handle);
            if (size > Array.MaxLength) throw new IOException($"{path} is too large to be a page ({size} bytes).");
            if (size > _buffer.Length) _buffer = new byte[Math.Max(size, _buffer.Length * 2L)];
            var total = 0;
            while (total < size)
            {
                var n = RandomAccess.Read(handle, _buffer.AsSpan(total, (int)size - total), total);
                if (n == 0) break; // shrank while being read: check what is there
                total += n;
            }
            return total;
        }

        public void CheckLink(string page, string raw, Uri? absoluteBase, bool sharedResolutions = true)
        {
            var link = raw.Trim();
            if (link.Length == 0 || link[0] == '#') return; // the page itself

            // Relative links depend on the page; the rest resolve alike on every page without a <base>.
            var shared = sharedResolutions && (link[0] == '/' || SchemePattern().IsMatch(link));
            Resolution resolution;
            if (!shared || !_resolved.TryGetValue(link, out resolution))
            {
                resolution = checker.Resolve(link, absoluteBase, Files);
                if (shared) _resolved[link] = resolution;
            }

            switch (resolution.Kind)
            {
                case LinkKind.External:
                    External++;
                    break;
                case LinkKind.Found:
                    Checked++;
                    break;
                case LinkKind.Broken:
                    Checked++;
                    Broken.Add(new BrokenLink(page, raw, resolution.LookedFor!));
                    break;
                case LinkKind.Invalid:
                    Broken.Add(new BrokenLink(page, raw, resolution.LookedFor!));
                    break;
            }
        }
    }

    /// <summary>Resolves a trimmed, non-empty link that is not a fragment.</summary>
    private Resolution Resolve(string link, Uri? absoluteBase, HashSet<string> files)
    {
        var scheme = SchemePattern().Match(link);
        if (scheme.Success && !IsHttp(scheme.Groups[1].Value)) return new(LinkKind.Ignored); // mailto:, data:, javascript:, tel:, ...
        var written = scheme.Success || link.StartsWith("//", StringComparison.Ordinal);

        if (!Uri.TryCreate(absoluteBase ?? _siteBase, link, out var target) || !IsHttp(target.Scheme))
            return new(LinkKind.Invalid, "a valid URL");
        if (!IsSameSite(target, written))
            return new(LinkKind.External);

        var path = Uri.UnescapeDataString(target.AbsolutePath);
        var root = Root;
        if (path + "/" == root) path = root;
        if (!path.StartsWith(root, StringComparison.Ordinal))
            return new(LinkKind.Broken, $"{path}, which is outside the site's root {root}");

        var relative = path[root.Length..];
        if (relative.Length == 0 || relative.EndsWith('/'))
        {
            var index = relative + "index.html";
            return files.Contains(index) ? new(LinkKind.Found) : new(LinkKind.Broken, index);
        }
        return files.Contains(relative) || files.Contains(relative + "/index.html") ? new(LinkKind.Found) : new(LinkKind.Broken, relative);
    }

    private string Root => config.Root;

    /// <summary>The address a page of the site is served at, e.g. https://blog.example.com/2026/01/post/index.html.</summary>
    private Uri AddressOf(string page) =>
        new(_siteBase, string.Join('/', page.Split('/').Select(Uri.EscapeDataString)));

    /// <summary>
    /// Links written as absolute addresses are internal only on the site's host and under the path of
    /// its <c>url</c>; relative and root-relative ones always are (they resolved against the site).
    /// </summary>
    private bool IsSameSite(Uri target, bool writtenAbsolute)
    {
        if (!writtenAbsolute) return true;
        var url = config.Url;
        if (!string.Equals(target.Host, url.Host, StringComparison.OrdinalIgnoreCase)) return false;
        if (!(target.IsDefaultPort && url.IsDefaultPort) && target.Port != url.Port) return false;
        var prefix = url.AbsolutePath.TrimEnd('/');
        return prefix.Length == 0
            || target.AbsolutePath.Equals(prefix, StringComparison.Ordinal)
            || target.AbsolutePath.StartsWith(prefix + "/", StringComparison.Ordinal);
    }

    private static bool IsHttp(string scheme) =>
        scheme.Equals("http", StringComparison.OrdinalIgnoreCase) || scheme.Equals("https", StringComparison.OrdinalIgnoreCase);

    /// <summary>The URLs of a srcset attribute (HTML's "parse a srcset attribute", without the descriptors).</summary>
    public static IEnumerable<string> SrcsetUrls(string srcset)
    {
        var i = 0;
        while (i < srcset.Length)
        {
            while (i < srcset.Length && (char.IsWhiteSpace(srcset[i]) || srcset[i] == ',')) i++;
            var start = i;
            while (i < srcset.Length && !char.IsWhiteSpace(srcset[i])) i++;
            if (i == start) yield break;
            var url = srcset[start..i];
            if (url.EndsWith(','))
            {
                // "a.png," : no descriptors, the candidate ends here.
                yield return url.TrimEnd(',');
                continue;
            }
            yield return url;
            // Skip the descriptors ("2x", "480w") up to the comma that ends the candidate; a comma
            // inside parentheses does not end it.
            var depth = 0;
            while (i < srcset.Length && (srcset[i] != ',' || depth > 0))
            {
                if (srcset[i] == '(') depth++;
                else if (srcset[i] == ')' && depth > 0) depth--;
                i++;
            }
        }
    }

    [GeneratedRegex("^([a-zA-Z][a-zA-Z0-9+.-]*):")]
    private static partial Regex SchemePattern();
}
