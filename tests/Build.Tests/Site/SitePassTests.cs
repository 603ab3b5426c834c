using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using Build.Deployment.Release;
using Build.Site;
using TestHosts;

namespace Build.Tests.Site;

/// <summary>
/// Hashing and checking in one read of the site: the same manifest and the same findings as hashing and checking
/// apart, each page handed to the checker once with the bytes that were hashed, and the scan's refusals intact.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class SitePassTests : IDisposable
{
    private static readonly SiteConfig Blog = SiteConfig.Parse("url: https://blog.example.com/blog/\nroot: /blog/\n");
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly TempSite _site = new();

    public void Dispose() => _site.Dispose();

    /// <summary>
    /// A few hundred pages with good and broken links of every kind the checker knows: root-relative, relative, absolute
    /// on and off the site, percent-encoded, srcset, a base element, character references, spaces, fragments, queries,
    /// other schemes; plus assets, a feed, and files larger than the read buffer.
    /// </summary>
    private void Generate(int posts)
    {
        _site.WithHomeAndFeed("""<a href="/blog/">home</a> <a href="/blog/about/">about</a>""");
        _site.File("atom.xml", """
            <?xml version="1.0" encoding="utf-8"?>
            <feed xmlns="http://www.w3.org/2005/Atom">
              <title>t</title><id>https://blog.example.com/blog/</id><updated>2026-01-01T00:00:00Z</updated>
              <link href="https://blog.example.com/blog/atom.xml" rel="self"/>
              <link href="https://blog.example.com/blog/2026/post-7/"/>
              <link href="https://blog.example.com/blog/2026/post-gone/"/>
            </feed>
            """);
        _site.Page("about/index.html", """<a href="../">up</a> <img src="/blog/img/logo.png" srcset="/blog/img/logo.png 1x, /blog/img/logo@2x.png 2x">""");
        _site.File("img/logo.png", "png");
        _site.File("css/style.css", "body{}");
        _site.File("tags/caf%C3%A9/index.html", "<a href=\"/blog/\">home</a>");
        var big = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(big);
        Directory.CreateDirectory(Path.Join(_site.Directory, "downloads"));
        File.WriteAllBytes(Path.Join(_site.Directory, "downloads", "big.bin"), big);

        for (var i = 0; i < posts; i++)
        {
            var links = new StringBuilder();
            // What repeats on every page (menus, tags), spelled as a site generator writes it.
            links.Append("""<nav><a href="/blog/">Home</a><a href="/blog/about/">About</a><a href="/blog/atom.xml">Feed</a>""");
            links.Append("""<a href="/blog/tags/caf%25C3%25A9/">café</a><a href="https://blog.example.com/blog/about/">abs</a></nav>""");
            links.Append("""<link rel="stylesheet" href="/blog/css/style.css"><script src="/blog/js/missing.js"></script>""");
            links.Append($"""<a href="../post-{(i + 1) % posts}/">next</a><a href=" /blog/2026/post-{(i + 2) % posts}/#top ">spaced</a>""");
            links.Append($"""<a href="/blog/2026/post-{i}/index.html?x=1&amp;y=2">query</a><a href="#section">fragment</a>""");
            links.Append("""<a href="mailto:me@example.com">mail</a><a href="https://other.example.org/x">external</a><a href="//blog.example.com/blog/">scheme-relative</a>""");
            links.Append("""<a href="/outside/">outside the root</a><a href="http://[bad">invalid</a><img srcset="/blog/img/logo.png, /blog/img/gone.png 2x">""");
            if (i % 10 == 0) links.Append($"""<a href="/blog/2026/post-{i + 1000}/">broken {i}</a><a href="../../tags/nope/">broken relative</a>""");
            if (i % 25 == 0) links.Append("""<base href="https://blog.example.com/blog/about/"><a href="../img/logo.png">based</a><a href="sub/">based broken</a>""");
            if (i % 50 == 0) links.Append(new string('x', 200 * 1024)).Append("""<a href="/blog/after-a-long-page/">late broken</a>""");
            _site.Page($"2026/post-{i}/index.html", links.ToString());
        }
    }

    private async Task<(Manifest Manifest, LinkCheckResult Result)> OnePassAsync()
    {
        var checker = new LinkChecker(_site.Directory, Blog);
        return await SitePass.RunAsync(Manifest.Scan(_site.Directory), checker, CancellationToken.None).WaitAsync(Bound);
    }

    [Fact]
    public async Task One_pass_finds_what_hashing_and_checking_apart_find()
    {
        Generate(300);

        var (manifest, result) = await OnePassAsync();
        var apart = new LinkChecker(_site.Directory, Blog).Check(CancellationToken.None);
        var hashed = await Manifest.CreateAsync(Manifest.Scan(_site.Directory), CancellationToken.None).WaitAsync(Bound);

        Assert.Equal(apart.BrokenLinks, result.BrokenLinks);
        Assert.Equal(apart.SiteProblems, result.SiteProblems);
        Assert.Equal((apart.Pages, apart.Files, apart.LinksChecked, apart.ExternalLinks), (result.Pages, result.Files, result.LinksChecked, result.ExternalLinks));
        Assert.Equal(hashed.Hash, manifest.Hash);
        Assert.Equal(hashed.Entries, manifest.Entries);

        // The site really has what the comparison is about: broken links of several kinds, a long page, a feed's own.
        Assert.Equal(303, result.Pages);
        Assert.Contains(result.BrokenLinks, b => b is { Page: "2026/post-0/index.html", Link: "/blog/js/missing.js" });
        Assert.Contains(result.BrokenLinks, b => b is { Page: "2026/post-50/index.html", Link: "/blog/after-a-long-page/" });
        Assert.Contains(result.BrokenLinks, b => b is { Page: "2026/post-25/index.html", Link: "sub/", LookedFor: "about/sub/index.html" });
        Assert.Contains(result.BrokenLinks, b => b is { Page: "2026/post-3/index.html", Link: "/blog/img/gone.png" });
        Assert.Contains(result.BrokenLinks, b => b is { Page: "2026/post-3/index.html", Link: "http://[bad", LookedFor: "a valid URL" });
        Assert.Contains(result.BrokenLinks, b => b is { Page: "atom.xml", Link: "https://blog.example.com/blog/2026/post-gone/" });
        Assert.DoesNotContain(result.BrokenLinks, b => b.Link.Contains("#top") || b.Link.Contains("?x=1") || b.Link.Contains("caf"));
    }

    [Fact]
    public async Task Each_page_reaches_the_checker_once_with_the_bytes_that_were_hashed()
    {
        Generate(40);
        var scan = Manifest.Scan(_site.Directory);
        var checker = new LinkChecker(_site.Directory, Blog);
        var pass = checker.Begin(scan.Files.Select(f => f.Path));
        var spy = new Spy(pass);

        var manifest = await Manifest.CreateAsync(scan, spy, CancellationToken.None).WaitAsync(Bound);
        var result = pass.Finish();

        var pages = scan.Files.Select(f => f.Path).Where(p => p.EndsWith(".html", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        // Every page once, the feed once (it is parsed from those bytes), and nothing else: assets are hashed, not handed on.
        Assert.Equal(pages.Append("atom.xml").Order(StringComparer.Ordinal), spy.Seen.Keys.Order(StringComparer.Ordinal));
        Assert.All(spy.Seen, s => Assert.Equal(1, s.Value.Count));
        Assert.All(spy.Seen, s => Assert.Equal(manifest.ByPath[s.Key].Sha256, s.Value.Sha256));
        Assert.Equal(pages.Length, pass.PagesScanned);
        Assert.Equal(pages.Length, result.Pages);
        Assert.True(spy.Workers is >= 1 and <= 64, $"{spy.Workers} workers");
        Assert.Equal(spy.Workers, spy.Completed);
    }

    [Fact]
    public async Task Files_larger_than_the_read_buffer_hash_as_their_bytes_do()
    {
        Generate(3);
        var (manifest, _) = await OnePassAsync();

        foreach (var path in new[] { "downloads/big.bin", "2026/post-0/index.html", "index.html" })
        {
            var bytes = File.ReadAllBytes(Path.Join(_site.Directory, path));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), manifest.ByPath[path].Sha256);
            Assert.Equal(bytes.Length, manifest.ByPath[path].Size);
        }
    }

    [Fact]
    public async Task A_page_replaced_by_a_fifo_after_the_scan_is_refused_unread_and_the_error_says_so()
    {
        Generate(60);
        var scan = Manifest.Scan(_site.Directory);
        var page = Path.Join(_site.Directory, "2026", "post-31", "index.html");
        File.Delete(page);
        (await LocalProcess.RunAsync("mkfifo", [page])).EnsureSuccess("mkfifo");

        // The failing worker's error, not the cancellation it causes in the others.
        var e = await Assert.ThrowsAsync<ReleaseException>(
            () => SitePass.RunAsync(scan, new LinkChecker(_site.Directory, Blog), CancellationToken.None).WaitAsync(Bound));
        Assert.Contains("the site changed while deploying: 2026/post-31/index.html", e.Message);
        Assert.Equal(ReleaseFailure.BadInput, e.Kind);
    }

    [Fact]
    public async Task A_fifo_in_the_site_fails_the_deploys_manifest_but_the_links_are_still_checked()
    {
        Generate(5);
        (await LocalProcess.RunAsync("mkfifo", [Path.Join(_site.Directory, "pipe")])).EnsureSuccess("mkfifo");
        var artifacts = Directory.CreateTempSubdirectory("site-pass-").FullName;
        try
        {
            var log = new List<string>();
            var (manifest, check) = new SiteCheck(_site.Directory, Blog, SiteCheckRecord.PathIn(artifacts), writesRecord: true, log.Add)
                .Start(CancellationToken.None);

            var e = await Assert.ThrowsAsync<ReleaseException>(() => manifest.WaitAsync(Bound));
            Assert.Contains("a FIFO (named pipe): pipe", e.Message);
            var (outcome, result) = await check.WaitAsync(Bound);
            Assert.Equal(SiteCheckOutcome.Checked, outcome);
            Assert.Contains(result!.BrokenLinks, b => b.Link == "/blog/js/missing.js");
            Assert.False(File.Exists(SiteCheckRecord.PathIn(artifacts)));
        }
        finally
        {
            Directory.Delete(artifacts, recursive: true);
        }
    }

    [Fact]
    public async Task A_symlinked_page_is_checked_from_its_targets_content()
    {
        _site.WithHomeAndFeed();
        _site.Page("real/index.html", """<a href="/blog/nowhere/">broken</a>""");
        Directory.CreateDirectory(Path.Join(_site.Directory, "alias"));
        File.CreateSymbolicLink(Path.Join(_site.Directory, "alias", "index.html"), "../real/index.html");

        var (manifest, result) = await OnePassAsync();

        Assert.Equal(manifest.ByPath["real/index.html"].Sha256, manifest.ByPath["alias/index.html"].Sha256);
        Assert.Equal(["alias/index.html", "real/index.html"], result.BrokenLinks.Select(b => b.Page));
    }

    [Fact]
    public async Task The_deploy_without_a_record_gets_the_one_pass_manifest_and_check()
    {
        Generate(20);
        var artifacts = Directory.CreateTempSubdirectory("site-pass-").FullName;
        try
        {
            var (manifest, check) = new SiteCheck(_site.Directory, Blog, SiteCheckRecord.PathIn(artifacts), writesRecord: false, _ => { })
                .Start(CancellationToken.None);
            var (outcome, result) = await check.WaitAsync(Bound);

            Assert.Equal(SiteCheckOutcome.Checked, outcome);
            Assert.Equal(new LinkChecker(_site.Directory, Blog).Check(CancellationToken.None).BrokenLinks, result!.BrokenLinks);
            Assert.Equal((await Manifest.CreateAsync(_site.Directory, CancellationToken.None)).Hash, (await manifest.WaitAsync(Bound)).Hash);
        }
        finally
        {
            Directory.Delete(artifacts, recursive: true);
        }
    }

    /// <summary>Passes everything on to the checker's pass and notes what each file's handed bytes hash to, and how often.</summary>
    private sealed class Spy(ISiteContentSink inner) : ISiteContentSink
    {
        private int _workers, _completed;

        public Dictionary<string, (int Count, string Sha256)> Seen { get; } = new(StringComparer.Ordinal);

        public int Workers => _workers;

        public int Completed => _completed;

        public bool Wants(string path) => inner.Wants(path);

        public ISiteContentWorker CreateWorker()
        {
            Interlocked.Increment(ref _workers);
            return new Worker(this, inner.CreateWorker());
        }

        private sealed class Worker(Spy spy, ISiteContentWorker inner) : ISiteContentWorker
        {
            public void Accept(string path, ReadOnlySpan<byte> content)
            {
                var sha = Convert.ToHexStringLower(SHA256.HashData(content));
                lock (spy.Seen) spy.Seen[path] = (spy.Seen.GetValueOrDefault(path).Count + 1, sha);
                inner.Accept(path, content);
            }

            public void Complete()
            {
                Interlocked.Increment(ref spy._completed);
                inner.Complete();
            }
        }
    }
}
