using System.Xml;
using System.Xml.Linq;
using Build.Deployment.Release;
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
public sealed class LinkChecker(string siteDirectory, SiteConfig config, TimeProvider? timeProvider = null)
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    // The site's root address: relative and root-relative links resolve against pages under it.
    private readonly Uri _siteBase = new(config.Url.GetLeftPart(UriPartial.Authority) + config.Root);

    public string SiteDirectory { get; } = Path.GetFullPath(siteDirectory);

    internal SiteConfig Config => config;

    public Task<LinkCheckResult> CheckAsync(CancellationToken cancellationToken) =>
        Task.Run(() => Check(cancellationToken), cancellationToken);

    /// <summary>Lists the site and reads every page itself. <see cref="SitePass"/> checks while hashing instead, reading each file once.</summary>
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
            .Select(f => Path.GetRelativePath(SiteDirectory, f).Replace('\\', '/'));
        var pass = Begin(files, started);

        Parallel.ForEach(
            pass.Pages.Order(StringComparer.Ordinal),
            new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount },
            () => pass.NewScan(),
            (page, _, scan) =>
            {
                scan.Scan(page, scan.Read(Path.Join(SiteDirectory, page)));
                return scan;
            },
            scan => scan.Complete());
        return pass.Finish();
    }

    /// <summary>
    /// A check fed by someone else's read of the site (the manifest's, see <see cref="SitePass"/>): <paramref name="files"/>
    /// is the site's file list (relative, '/'-separated); the pages and feeds it wants come through the sink.
    /// </summary>
    public LinkCheckPass Begin(IEnumerable<string> files) => Begin(files, _time.GetTimestamp());

    private LinkCheckPass Begin(IEnumerable<string> files, long started) => new(this, files.ToHashSet(StringComparer.Ordinal), started);

    private static bool IsPage(string path) =>
        path.EndsWith(".html", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".htm", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// One check of a site: its file list, the pages' findings as the scans hand them in, then <see cref="Finish"/>.
    /// As an <see cref="ISiteContentSink"/> it wants the pages and the feeds.
    /// </summary>
    public sealed class LinkCheckPass : ISiteContentSink
    {
        private readonly LinkChecker _checker;
        private readonly long _started;
        private readonly List<BrokenLink> _broken = [];
        private readonly Dictionary<string, byte[]> _feeds = new(StringComparer.Ordinal);
        private readonly HashSet<string> _feedPaths;
        private int _checked, _external, _scanned;

        internal LinkCheckPass(LinkChecker checker, HashSet<string> files, long started)
        {
            _checker = checker;
            _started = started;
            Files = files;
            Pages = files.Where(IsPage).ToArray();
            _feedPaths = checker.Config.Feeds.Select(f => f.Path).ToHashSet(StringComparer.Ordinal);
        }

        internal HashSet<string> Files { get; }

        internal IReadOnlyList<string> Pages { get; }

        /// <summary>How many pages were scanned: every page of the list once, when the pass was complete.</summary>
        public int PagesScanned => Volatile.Read(ref _scanned);

        public bool Wants(string path) => IsPage(path) || _feedPaths.Contains(path);

        public ISiteContentWorker CreateWorker() => NewScan();

        internal PageScan NewScan() => new(_checker, this);

        internal void Merge(PageScan scan)
        {
            lock (_broken)
            {
                _broken.AddRange(scan.Broken);
                _checked += scan.Checked;
                _external += scan.External;
                _scanned += scan.Scanned;
            }
        }

        internal void KeepFeed(string path, ReadOnlySpan<byte> content)
        {
            lock (_feeds) _feeds[path] = content.ToArray();
        }

        /// <summary>The home page and the feeds, then the result (once every scan completed).</summary>
        public LinkCheckResult Finish()
        {
            var problems = new List<string>();
            if (!Files.Contains("index.html"))
                problems.Add($"The home page index.html is missing from {_checker.SiteDirectory}.");

            foreach (var feed in _checker.Config.Feeds)
            {
                var scan = NewScan();
                problems.AddRange(_checker.CheckFeed(feed, scan, _feeds.GetValueOrDefault(feed.Path)));
                _broken.AddRange(scan.Broken);
                _checked += scan.Checked;
                _external += scan.External;
            }

            var sorted = _broken
                .Distinct()
                .OrderBy(b => b.Page, StringComparer.Ordinal)
                .ThenBy(b => b.Link, StringComparer.Ordinal)
                .ToArray();
            return new LinkCheckResult(sorted, problems, Pages.Count, Files.Count, _checked, _external, _checker._time.GetElapsedTime(_started));
        }
    }

    private IEnumerable<string> CheckFeed(FeedInfo feed, PageScan scan, byte[]? content)
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
            // The bytes the pass hashed when it had them; otherwise (the standalone check) the file.
            using var stream = content is null ? (Stream)File.OpenRead(Path.Join(SiteDirectory, feed.Path)) : new MemoryStream(content, writable: false);
            using var reader = XmlReader.Create(stream, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit });
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
            foreach (var link in root.Descendants("link")) scan.CheckFeedLink(feed.Path, link.Value);
        }
        else
        {
            if (root.Name != atom + "feed")
            {
                yield return $"The feed {feed.Path} should be Atom but its root element is <{root.Name.LocalName}> in namespace '{root.Name.NamespaceName}'.";
                yield break;
            }
            foreach (var link in root.Descendants(atom + "link"))
                if (link.Attribute("href")?.Value is { } href) scan.CheckFeedLink(feed.Path, href);
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
    internal sealed class PageScan : ISiteContentWorker
    {
        private readonly LinkChecker _checker;
        private readonly LinkCheckPass _pass;

        // Links that do not depend on the page (root-relative or absolute) repeat on every page: menus, styles, tags.
        // They are looked up by their bytes, so a repeated link costs no string.
        private readonly LinkTable _resolved = new();
        private readonly RawLinks _links = new();
        private byte[] _buffer = [];

        public PageScan(LinkChecker checker, LinkCheckPass pass)
        {
            _checker = checker;
            _pass = pass;
        }

        public HashSet<string> Files => _pass.Files;
        public List<BrokenLink> Broken { get; } = [];
        public int Checked { get; private set; }
        public int External { get; private set; }
        public int Scanned { get; private set; }

        public void Accept(string path, ReadOnlySpan<byte> content)
        {
            if (IsPage(path)) Scan(path, content);
            else _pass.KeepFeed(path, content);
        }

        public void Complete() => _pass.Merge(this);

        public void Scan(string page, ReadOnlySpan<byte> html)
        {
            Scanned++;
            _links.Clear();
            var baseRange = HtmlLinkExtractor.Extract(html, _links);

            // The page's own address only matters to relative links (and a base): made when the first one needs it.
            Uri? pageUri = null;
            var sharedResolutions = true;
            if (baseRange is { } b)
            {
                pageUri = _checker.AddressOf(page);
                if (Uri.TryCreate(pageUri, HtmlLinkExtractor.Decode(html.Slice(b.Start, b.Length)).Trim(), out var based))
                {
                    pageUri = based;
                    sharedResolutions = false; // a base on another host would resolve root-relative links elsewhere
                }
            }

            foreach (var link in _links.AsSpan())
            {
                var value = html.Slice(link.Start, link.Length);
                if (link.Attribute == LinkAttribute.Srcset)
                {
                    foreach (var candidate in SrcsetUrls(HtmlLinkExtractor.Decode(value))) CheckLink(page, candidate, ref pageUri, sharedResolutions);
                }
                else if (!CheckPlain(page, value, ref pageUri, sharedResolutions))
                {
                    CheckLink(page, HtmlLinkExtractor.Decode(value), ref pageUri, sharedResolutions);
                }
            }
        }

        /// <summary>
        /// The common case without a string: no character reference and nothing to trim (the value starts and ends with
        /// visible ASCII), so the bytes are the link. False when the value is not such a case: then it goes the string way.
        /// </summary>
        private bool CheckPlain(string page, ReadOnlySpan<byte> value, ref Uri? pageUri, bool sharedResolutions)
        {
            if (value.IsEmpty) return true; // the page itself
            if (!IsVisibleAscii(value[0]) || !IsVisibleAscii(value[^1]) || value.Contains((byte)'&')) return false;
            if (value[0] == '#') return true;

            var shared = sharedResolutions && (value[0] == '/' || SchemeLength(value) > 0);
            Resolution resolution;
            if (shared)
            {
                if (!_resolved.TryGetValue(value, out resolution))
                {
                    resolution = _checker.Resolve(System.Text.Encoding.UTF8.GetString(value), absoluteBase: null, Files);
                    _resolved.Add(value, resolution);
                }
            }
            else
            {
                resolution = _checker.Resolve(System.Text.Encoding.UTF8.GetString(value), pageUri ??= _checker.AddressOf(page), Files);
            }
            if (resolution.Kind is LinkKind.Broken or LinkKind.Invalid) Count(page, resolution, System.Text.Encoding.UTF8.GetString(value));
            else Count(page, resolution, "");
            return true;
        }

        public void CheckLink(string page, string raw, ref Uri? pageUri, bool sharedResolutions = true)
        {
            var link = raw.Trim();
            if (link.Length == 0 || link[0] == '#') return; // the page itself

            // Relative links depend on the page; the rest resolve alike on every page without a <base>.
            var shared = sharedResolutions && (link[0] == '/' || SchemeLength(link) > 0);
            if (!shared)
            {
                Count(page, _checker.Resolve(link, pageUri ??= _checker.AddressOf(page), Files), raw);
                return;
            }
            // The same table as the plain way: keyed by the link's UTF-8 bytes.
            var key = System.Text.Encoding.UTF8.GetBytes(link);
            if (!_resolved.TryGetValue(key, out var resolution))
            {
                resolution = _checker.Resolve(link, absoluteBase: null, Files);
                _resolved.Add(key, resolution);
            }
            Count(page, resolution, raw);
        }

        /// <summary>A feed's link: absolute or resolved against the site (a feed has no page address of its own).</summary>
        public void CheckFeedLink(string feed, string raw)
        {
            var link = raw.Trim();
            if (link.Length == 0 || link[0] == '#') return;
            Count(feed, _checker.Resolve(link, absoluteBase: null, Files), raw);
        }

        private void Count(string page, Resolution resolution, string raw)
        {
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

        public ReadOnlySpan<byte> Read(string path)
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            var size = RandomAccess.GetLength(handle);
            if (size > Array.MaxLength) throw new IOException($"{path} is too large to be a page ({size} bytes).");
            if (size > _buffer.Length) _buffer = new byte[Math.Max(size, Math.Max(64 * 1024, _buffer.Length * 2L))];
            var total = 0;
            while (total < size)
            {
                var n = RandomAccess.Read(handle, _buffer.AsSpan(total, (int)size - total), total);
                if (n == 0) break; // shrank while being read: check what is there
                total += n;
            }
            return _buffer.AsSpan(0, total);
        }

        private static bool IsVisibleAscii(byte b) => b is > 0x20 and < 0x7F;
    }

    /// <summary>
    /// Resolutions by link bytes: open addressing, FNV-1a. Not a <c>Dictionary</c>: one over this struct, or with a span
    /// lookup, is compiled only at run time (unless build.sh's composite image holds the framework) and starts as
    /// unoptimized code, which a short run never outgrows.
    /// </summary>
    private sealed class LinkTable
    {
        private byte[]?[] _keys = new byte[]?[1024];
        private Resolution[] _values = new Resolution[1024];
        private int[] _hashes = new int[1024];
        private int _count;

        public bool TryGetValue(ReadOnlySpan<byte> key, out Resolution value)
        {
            var hash = HashOf(key);
            var mask = _keys.Length - 1;
            for (var slot = hash & mask; _keys[slot] is { } stored; slot = (slot + 1) & mask)
            {
                if (_hashes[slot] == hash && key.SequenceEqual(stored))
                {
                    value = _values[slot];
                    return true;
                }
            }
            value = default;
            return false;
        }

        /// <summary>Adds a key that <see cref="TryGetValue"/> did not find.</summary>
        public void Add(ReadOnlySpan<byte> key, Resolution value)
        {
            if ((_count + 1) * 2 > _keys.Length) Grow();
            Put(key.ToArray(), HashOf(key), value);
            _count++;
        }

        private void Put(byte[] key, int hash, Resolution value)
        {
            var mask = _keys.Length - 1;
            var slot = hash & mask;
            while (_keys[slot] is not null) slot = (slot + 1) & mask;
            _keys[slot] = key;
            _hashes[slot] = hash;
            _values[slot] = value;
        }

        private void Grow()
        {
            var (keys, hashes, values) = (_keys, _hashes, _values);
            _keys = new byte[]?[keys.Length * 2];
            _hashes = new int[keys.Length * 2];
            _values = new Resolution[keys.Length * 2];
            for (var i = 0; i < keys.Length; i++)
                if (keys[i] is { } key) Put(key, hashes[i], values[i]);
        }

        private static int HashOf(ReadOnlySpan<byte> key)
        {
            var hash = 2166136261;
            foreach (var b in key) hash = (hash ^ b) * 16777619;
            return (int)(hash & 0x7FFFFFFF);
        }
    }

    /// <summary>Resolves a trimmed, non-empty link that is not a fragment.</summary>
    private Resolution Resolve(string link, Uri? absoluteBase, HashSet<string> files)
    {
        var scheme = SchemeLength(link);
        if (scheme > 0 && !IsHttp(link.AsSpan(0, scheme))) return new(LinkKind.Ignored); // mailto:, data:, javascript:, tel:, ...
        var written = scheme > 0 || link.StartsWith("//", StringComparison.Ordinal);

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

    private static bool IsHttp(ReadOnlySpan<char> scheme) =>
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

    /// <summary><see cref="SchemeLength(ReadOnlySpan{char})"/> of a link's UTF-8 bytes.</summary>
    private static int SchemeLength(ReadOnlySpan<byte> link)
    {
        if (link.IsEmpty || !char.IsAsciiLetter((char)link[0])) return 0;
        for (var i = 1; i < link.Length; i++)
        {
            var c = (char)link[i];
            if (c == ':') return i;
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('+' or '.' or '-')) return 0;
        }
        return 0;
    }

    /// <summary>The length of the link's scheme (a letter, then letters, digits, '+', '.', '-', then ':'), or 0 without one.</summary>
    private static int SchemeLength(ReadOnlySpan<char> link)
    {
        if (link.IsEmpty || !char.IsAsciiLetter(link[0])) return 0;
        for (var i = 1; i < link.Length; i++)
        {
            var c = link[i];
            if (c == ':') return i;
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('+' or '.' or '-')) return 0;
        }
        return 0;
    }
}
