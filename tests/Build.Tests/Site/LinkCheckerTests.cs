using Build.Site;

namespace Build.Tests.Site;

public sealed class LinkCheckerTests : IDisposable
{
    private readonly TempSite _site = new();

    private static readonly SiteConfig Blog = SiteConfig.Parse("url: https://blog.example.com\nroot: /\n");

    public void Dispose() => _site.Dispose();

    private LinkCheckResult Check(SiteConfig? config = null) =>
        new LinkChecker(_site.Directory, config ?? Blog).Check(CancellationToken.None);

    [Fact]
    public void Good_links_of_every_kind_resolve()
    {
        _site.WithHomeAndFeed("""
                <a href="2026/01/post/">post</a>
                <a href="/about/">about</a>
                <a href="./about/index.html">about again</a>
                <link rel="stylesheet" href="/css/style.css">
                <script src="js/app.js"></script>
                <img src="https://blog.example.com/images/logo.png">
                """)
            .Page("2026/01/post/index.html", """<img src="diagram.png"><a href="../../../">home</a><a href="../../../about/">up and over</a>""")
            .File("2026/01/post/diagram.png", "png")
            .Page("about/index.html", "")
            .File("css/style.css")
            .File("js/app.js")
            .File("images/logo.png");

        var result = Check();

        Assert.True(result.Succeeded, string.Join('\n', result.BrokenLinks));
        Assert.Empty(result.BrokenLinks);
        Assert.Equal(3, result.Pages);
        Assert.Equal(9 + 2, result.LinksChecked); // 9 page links and the feed's two
        Assert.Equal(0, result.ExternalLinks);
    }

    [Fact]
    public void A_broken_relative_link_names_the_page_the_link_and_the_file_looked_for()
    {
        _site.WithHomeAndFeed()
            .Page("2026/01/post/index.html", """<img src="missing.png"><a href="../other/">other</a>""");

        var result = Check();

        Assert.False(result.Succeeded);
        Assert.Equal(
            [
                new BrokenLink("2026/01/post/index.html", "../other/", "2026/01/other/index.html"),
                new BrokenLink("2026/01/post/index.html", "missing.png", "2026/01/post/missing.png"),
            ],
            result.BrokenLinks);
        Assert.Equal("2026/01/post/index.html: missing.png (looked for 2026/01/post/missing.png)", result.BrokenLinks[1].ToString());
    }

    [Fact]
    public void A_broken_root_relative_link_is_reported()
    {
        _site.WithHomeAndFeed("""<a href="/tags/nope/">tag</a><a href="/favicon.png">icon</a>""").File("favicon.png");

        var broken = Assert.Single(Check().BrokenLinks);

        Assert.Equal(new BrokenLink("index.html", "/tags/nope/", "tags/nope/index.html"), broken);
    }

    [Fact]
    public void Root_is_stripped_from_root_relative_links_and_links_outside_it_are_broken()
    {
        var config = SiteConfig.Parse("url: https://example.com/blog\nroot: /blog/\n");
        _site.WithHomeAndFeed("""
                <a href="/blog/a.html">a</a>
                <a href="/blog/">home</a>
                <a href="/blog">home without slash</a>
                <a href="/a.html">ignores root</a>
                """)
            .File("a.html");

        var result = Check(config);

        var broken = Assert.Single(result.BrokenLinks);
        Assert.Equal("/a.html", broken.Link);
        Assert.Contains("outside the site's root /blog/", broken.LookedFor);
    }

    [Fact]
    public void Absolute_links_under_url_are_internal_and_others_on_other_hosts_or_paths_are_external()
    {
        var config = SiteConfig.Parse("url: https://example.com/blog\nroot: /blog/\n");
        _site.WithHomeAndFeed("""
                <a href="https://example.com/blog/a.html">fine</a>
                <a href="http://EXAMPLE.com/blog/a.html?utm=x#top">other scheme and case, same site</a>
                <a href="https://example.com/blog/missing.html">broken</a>
                <a href="//example.com/blog/gone.png">protocol-relative, broken</a>
                <a href="https://example.com/shop/">same host, outside url's path: external</a>
                <a href="https://example.com:8443/blog/missing.html">other port: external</a>
                <a href="https://other.example.com/blog/missing.html">other host: external</a>
                """)
            .File("a.html");

        var result = Check(config);

        Assert.Equal(["//example.com/blog/gone.png", "https://example.com/blog/missing.html"], result.BrokenLinks.Select(b => b.Link));
        Assert.Equal(["gone.png", "missing.html"], result.BrokenLinks.Select(b => b.LookedFor));
        Assert.Equal(3 + 2, result.ExternalLinks); // and the feed's two links to blog.example.com
    }

    [Fact]
    public void Every_srcset_candidate_is_checked()
    {
        _site.WithHomeAndFeed("""
                <img src="a.png" srcset="a.png 1x, /img/a@2x.png 2x,missing-3x.png 3x">
                <picture><source srcset="wide.webp 800w,  narrow.webp" media="(min-width: 600px)"><img src="a.png"></picture>
                """)
            .File("a.png")
            .File("img/a@2x.png")
            .File("wide.webp");

        var result = Check();

        Assert.Equal(["missing-3x.png", "narrow.webp"], result.BrokenLinks.Select(b => b.Link));
    }

    [Theory]
    [InlineData("a.png", new[] { "a.png" })]
    [InlineData("a.png 1x, b.png 2x", new[] { "a.png", "b.png" })]
    [InlineData("  a.png, b.png 480w ,  c.png  ", new[] { "a.png", "b.png", "c.png" })]
    [InlineData("a.png,b.png 2x", new[] { "a.png,b.png" })] // a URL runs to whitespace, commas included
    [InlineData("a.png 100w,\n  b%20c.png 200w", new[] { "a.png", "b%20c.png" })]
    [InlineData("data:image/png;base64,AAAA 1x, b.png 2x", new[] { "data:image/png;base64,AAAA", "b.png" })]
    [InlineData("", new string[0])]
    public void Srcset_urls_are_split_as_html_does(string srcset, string[] expected)
    {
        Assert.Equal(expected, LinkChecker.SrcsetUrls(srcset));
    }

    [Fact]
    public void A_directory_link_means_its_index_html()
    {
        _site.WithHomeAndFeed("""
                <a href="/archives/">slash</a>
                <a href="/archives">no slash, the server redirects</a>
                <a href="archives/2026/">nested</a>
                <a href="/empty/">a folder without index.html</a>
                <a href="/empty">the same without slash</a>
                """)
            .Page("archives/index.html", "")
            .Page("archives/2026/index.html", "")
            .File("empty/style.css");

        var result = Check();

        Assert.Equal([("/empty", "empty"), ("/empty/", "empty/index.html")], result.BrokenLinks.Select(b => (b.Link, b.LookedFor)));
    }

    [Fact]
    public void Percent_encoded_links_are_decoded_before_the_lookup()
    {
        _site.WithHomeAndFeed("""
                <a href="/tags/c%23/">c#</a>
                <img src="my%20post/%C3%BCber%20uns.png">
                <img src="/tags/über/">
                <a href="my%20post/missing%20file.png">broken</a>
                """)
            .Page("tags/c#/index.html", "")
            .Page("tags/über/index.html", "")
            .File("my post/über uns.png");

        var broken = Assert.Single(Check().BrokenLinks);

        Assert.Equal(new BrokenLink("index.html", "my%20post/missing%20file.png", "my post/missing file.png"), broken);
    }

    [Fact]
    public void Pages_with_encoded_names_resolve_their_relative_links_from_their_own_folder()
    {
        _site.WithHomeAndFeed()
            .Page("tags/c#/index.html", """<a href="../../index.html">home</a><img src="pic.png">""")
            .Page("a b/page.html", """<img src="pic.png">""")
            .File("tags/c#/pic.png")
            .File("a b/pic.png");

        Assert.Empty(Check().BrokenLinks);
    }

    [Fact]
    public void External_links_other_schemes_fragments_and_queries_are_not_looked_up()
    {
        _site.WithHomeAndFeed("""
                <a href="https://hexo.io/docs/">external</a>
                <link href="https://cdn.example.net/x.css" rel="stylesheet">
                <script src="//cdn.example.net/x.js"></script>
                <a href="mailto:team@example.com">mail</a>
                <a href="tel:+100">phone</a>
                <a href="javascript:void(0)">js</a>
                <img src="data:image/png;base64,iVBORw0KGgo=">
                <a href="#top">fragment</a>
                <a href="">self</a>
                <a href="a.html#section">fragment of a page</a>
                <a href="a.html?page=2">query</a>
                """)
            .File("a.html");

        var result = Check();

        Assert.Empty(result.BrokenLinks);
        Assert.Equal(3, result.ExternalLinks);
        Assert.Equal(2 + 2, result.LinksChecked); // a.html twice, and the feed's two links
    }

    [Fact]
    public void A_base_element_changes_where_relative_links_resolve()
    {
        _site.WithHomeAndFeed()
            .Page("posts/p.html", """<base href="/assets/"><img src="pic.png"><img src="gone.png">""")
            .File("assets/pic.png");

        var broken = Assert.Single(Check().BrokenLinks);

        Assert.Equal("assets/gone.png", broken.LookedFor);
    }

    [Fact]
    public void A_missing_home_page_is_a_problem()
    {
        _site.WithHomeAndFeed();
        File.Delete(Path.Join(_site.Directory, "index.html"));

        var result = Check();

        Assert.False(result.Succeeded);
        Assert.Contains(result.SiteProblems, p => p.Contains("home page index.html is missing"));
    }

    [Fact]
    public void A_missing_feed_is_a_problem_naming_the_configured_path()
    {
        _site.Page("index.html", "");
        var config = SiteConfig.Parse("url: https://blog.example.com\nfeed:\n  type: atom\n  path: feeds/blog.xml\n");

        var result = Check(config);

        Assert.False(result.Succeeded);
        Assert.Contains(result.SiteProblems, p => p.Contains("feeds/blog.xml is missing"));
    }

    [Fact]
    public void A_feed_that_is_not_well_formed_xml_is_a_problem()
    {
        _site.Page("index.html", "").File("atom.xml", "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>unclosed</feed>");

        var problem = Assert.Single(Check().SiteProblems);

        Assert.Contains("atom.xml is not well-formed XML", problem);
    }

    [Fact]
    public void A_feed_that_is_not_atom_is_a_problem()
    {
        _site.Page("index.html", "").File("atom.xml", "<rss version=\"2.0\"><channel/></rss>");

        var problem = Assert.Single(Check().SiteProblems);

        Assert.Contains("should be Atom", problem);
    }

    [Fact]
    public void The_feeds_own_links_are_checked()
    {
        _site.Page("index.html", "").File("atom.xml", """
            <feed xmlns="http://www.w3.org/2005/Atom">
              <link href="https://blog.example.com/"/>
              <entry><link href="https://blog.example.com/2026/01/gone/"/></entry>
            </feed>
            """);

        var broken = Assert.Single(Check().BrokenLinks);

        Assert.Equal(new BrokenLink("atom.xml", "https://blog.example.com/2026/01/gone/", "2026/01/gone/index.html"), broken);
    }

    [Fact]
    public void Cancellation_stops_the_check()
    {
        _site.WithHomeAndFeed();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => new LinkChecker(_site.Directory, Blog).Check(cancelled.Token));
    }

    [Fact]
    public void A_missing_site_directory_is_an_error()
    {
        var checker = new LinkChecker(Path.Join(_site.Directory, "nope"), Blog);

        Assert.Throws<DirectoryNotFoundException>(() => checker.Check(CancellationToken.None));
    }
}
