using Build.Settings;
using Build.Site;

using Build.Tests.Support;

namespace Build.Tests.Site;

public sealed class SiteConfigTests
{
    [Fact]
    public void Reads_url_root_and_feed()
    {
        var config = SiteConfig.Parse("""
            title: x
            url: https://blog.example.com/blog  # a comment
            root: '/blog'
            feed:
              type: atom
              path: /feed.xml
            """);

        Assert.Equal(new Uri("https://blog.example.com/blog"), config.Url);
        Assert.Equal("/blog/", config.Root);
        Assert.Equal([new FeedInfo("feed.xml", "atom")], config.Feeds);
    }

    [Fact]
    public void Missing_keys_take_hexos_defaults()
    {
        var config = SiteConfig.Parse("title: x\n");

        Assert.Equal("/", config.Root);
        Assert.Equal([new FeedInfo("atom.xml", "atom")], config.Feeds);
    }

    [Fact]
    public void Both_feed_types_with_default_paths()
    {
        var config = SiteConfig.Parse("url: http://x.test\nfeed:\n  type: [atom, rss2]\n");

        Assert.Equal([new FeedInfo("atom.xml", "atom"), new FeedInfo("rss2.xml", "rss2")], config.Feeds);
    }

    [Fact]
    public void A_url_that_is_not_absolute_is_a_settings_error()
    {
        var e = Assert.Throws<SettingsException>(() => SiteConfig.Parse("url: blog.example.com\n"));

        Assert.Contains("url", e.Message);
        Assert.Equal(2, e.ExitCode);
    }

    [Fact]
    public void The_blogs_own_config_is_read()
    {
        var config = SiteConfig.Load(Path.Join(Repo.Root, "site", "_config.yml"));

        Assert.Equal("https", config.Url.Scheme);
        Assert.Equal("/", config.Root);
        Assert.Equal([new FeedInfo("atom.xml", "atom")], config.Feeds);
    }

    [Fact]
    public void A_missing_config_file_is_a_settings_error()
    {
        var e = Assert.Throws<SettingsException>(() => SiteConfig.Load(Path.Join(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "_config.yml")));

        Assert.Contains("does not exist", e.Message);
    }
}
