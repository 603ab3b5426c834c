using Build.Output;
using Build.Processes;
using Build.Site;
using Xunit.Abstractions;

using Build.Tests.Support;

namespace Build.Tests.Site;

/// <summary>
/// A copy of the blog's sources in a temporary folder with its dependencies installed by a real
/// <c>npm ci</c>, once for all the tests of <see cref="HexoSiteIntegrationTests"/>.
/// </summary>
public sealed class HexoSiteFixture : IAsyncLifetime
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("hexo-site-").FullName;

    public List<string> Output { get; } = [];

    public TimeSpan InstallTime { get; private set; }

    public async Task InitializeAsync()
    {
        Copy(Path.Join(Repo.Root, "site"), Directory);
        var started = TimeProvider.System.GetTimestamp();
        await Builder(Output).InstallAsync(CancellationToken.None);
        InstallTime = TimeProvider.System.GetElapsedTime(started);
    }

    public SiteBuilder Builder(List<string> lines) =>
        new(new ProcessRunner(Redactor.None), new SiteDependencies(Directory), lines.Add, lines.Add);

    public Task DisposeAsync()
    {
        System.IO.Directory.Delete(Directory, recursive: true);
        return Task.CompletedTask;
    }

    // The sources only: what a fresh clone has.
    private static void Copy(string from, string to)
    {
        foreach (var dir in System.IO.Directory.EnumerateDirectories(from))
        {
            var name = Path.GetFileName(dir);
            if (name is "node_modules" or "public" or ".deploy_git") continue;
            System.IO.Directory.CreateDirectory(Path.Join(to, name));
            Copy(dir, Path.Join(to, name));
        }
        foreach (var file in System.IO.Directory.EnumerateFiles(from))
        {
            if (Path.GetFileName(file) == "db.json") continue;
            File.Copy(file, Path.Join(to, Path.GetFileName(file)));
        }
    }
}

/// <summary>The real Hexo build of site/ (npm ci, hexo generate) checked by the link checker. Slow.</summary>
[Trait("Category", "Integration")]
[Trait("Speed", "Slow")]
public sealed class HexoSiteIntegrationTests(HexoSiteFixture site, ITestOutputHelper output) : IClassFixture<HexoSiteFixture>
{
    private readonly List<string> _lines = [];

    private string Public => Path.Join(site.Directory, "public");

    private Task<LinkCheckResult> CheckAsync() =>
        new LinkChecker(Public, SiteConfig.Load(Path.Join(site.Directory, "_config.yml"))).CheckAsync(CancellationToken.None);

    [Fact]
    public async Task The_blog_builds_with_a_page_per_post_and_no_broken_link()
    {
        Assert.True(new SiteDependencies(site.Directory).IsUpToDate(), "npm ci should have left node_modules marked as current");

        var generated = await site.Builder(_lines).GenerateAsync(CancellationToken.None);
        var result = await CheckAsync();

        output.WriteLine($"npm ci: {site.InstallTime.TotalSeconds:0.0} s; hexo generate: {generated.Files} files, " +
                         $"{generated.HexoTime?.TotalSeconds:0.00} s by Hexo's count, {generated.Elapsed.TotalSeconds:0.00} s wall; link check: {result}");
        Assert.True(File.Exists(Path.Join(Public, "index.html")));
        Assert.True(File.Exists(Path.Join(Public, "about", "index.html")));
        var posts = System.IO.Directory.GetFiles(Path.Join(site.Directory, "source", "_posts"), "*.md");
        Assert.True(posts.Length >= 6, $"the blog should have at least six posts, has {posts.Length}");
        foreach (var post in posts)
        {
            var slug = Path.GetFileNameWithoutExtension(post);
            var pages = System.IO.Directory.GetDirectories(Public, slug, SearchOption.AllDirectories)
                .Where(d => File.Exists(Path.Join(d, "index.html")))
                .ToArray();
            Assert.True(pages.Length == 1, $"expected one page for the post {slug}, found {pages.Length}");
        }
        Assert.True(generated.Files > posts.Length, $"Hexo reported {generated.Files} files");
        Assert.Empty(result.SiteProblems);
        Assert.Empty(result.BrokenLinks);
        Assert.True(result.LinksChecked > 100, $"only {result.LinksChecked} internal links were checked");

        // The streaming extractor finds on every real page exactly what a full HTML parser finds.
        var pagesCompared = 0;
        foreach (var page in System.IO.Directory.EnumerateFiles(Public, "*.html", SearchOption.AllDirectories))
        {
            var bytes = await File.ReadAllBytesAsync(page);
            Assert.Equal(DomLinks.Canonical(DomLinks.Of(System.Text.Encoding.UTF8.GetString(bytes))), DomLinks.Canonical(HtmlLinkExtractor.Extract(bytes)));
            pagesCompared++;
        }
        Assert.Equal(result.Pages, pagesCompared);
    }

    [Fact]
    public async Task A_post_with_a_broken_internal_link_is_named_by_the_check()
    {
        var post = Path.Join(site.Directory, "source", "_posts", "a-broken-link.md");
        await File.WriteAllTextAsync(post, """
            ---
            title: A post with a broken link
            date: 2026-11-01 09:00:00
            tags: [test]
            excerpt: It links to a post that does not exist.
            ---
            See [the missing post](/2026/01/01/no-such-post/) and ![a missing picture](missing.png).
            """);
        try
        {
            await site.Builder(_lines).GenerateAsync(CancellationToken.None);
            var result = await CheckAsync();

            Assert.False(result.Succeeded);
            var broken = result.BrokenLinks.Where(b => b.Page == "2026/11/01/a-broken-link/index.html").ToArray();
            Assert.Contains(new BrokenLink("2026/11/01/a-broken-link/index.html", "/2026/01/01/no-such-post/", "2026/01/01/no-such-post/index.html"), broken);
            // hexo-renderer-marked makes a picture missing from the asset folder root-relative.
            Assert.Contains(new BrokenLink("2026/11/01/a-broken-link/index.html", "/missing.png", "missing.png"), broken);
        }
        finally
        {
            File.Delete(post);
        }
    }
}
