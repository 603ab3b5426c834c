using Build.Deployment.Release;
using Build.Site;

namespace Build.Tests.Site;

/// <summary>The build records its check; a deploy of an already-built site trusts only a record of exactly its files and rules.</summary>
public sealed class SiteCheckTests : IDisposable
{
    private static readonly SiteConfig Blog = SiteConfig.Parse("url: https://blog.example.com\nroot: /\n");

    private readonly TempSite _site = new();
    private readonly string _artifacts = Directory.CreateTempSubdirectory("site-check-").FullName;
    private readonly List<string> _log = [];

    public SiteCheckTests()
    {
        _site.WithHomeAndFeed("""<a href="/about/">about</a>""").Page("about/index.html", """<a href="/">home</a>""");
    }

    private string RecordPath => SiteCheckRecord.PathIn(_artifacts);

    public void Dispose()
    {
        _site.Dispose();
        Directory.Delete(_artifacts, recursive: true);
    }

    private async Task<(SiteCheckOutcome Outcome, LinkCheckResult? Result, Manifest Manifest)> RunAsync(bool build, SiteConfig? config = null)
    {
        var (manifest, check) = new SiteCheck(_site.Directory, config ?? Blog, RecordPath, writesRecord: build, _log.Add).Start(CancellationToken.None);
        var (outcome, result) = await check;
        return (outcome, result, await manifest);
    }

    [Fact]
    public async Task The_build_records_its_check_and_the_deploy_of_the_same_files_trusts_it()
    {
        var built = await RunAsync(build: true);
        var deployed = await RunAsync(build: false);

        Assert.Equal(SiteCheckOutcome.Checked, built.Outcome);
        Assert.True(built.Result!.Succeeded);
        var record = await SiteCheckRecord.ReadAsync(RecordPath, CancellationToken.None);
        Assert.NotNull(record);
        Assert.Equal(built.Manifest.Hash, record.ManifestHash);
        Assert.Equal((await Manifest.CreateAsync(_site.Directory, CancellationToken.None)).Hash, record.ManifestHash);
        Assert.Equal(2, record.Pages);
        Assert.Equal(SiteCheckOutcome.Vouched, deployed.Outcome);
        Assert.Null(deployed.Result);
        Assert.Contains(_log, l => l.Contains("not checked again"));
    }

    [Fact]
    public async Task A_changed_file_is_checked_again_and_its_broken_link_found()
    {
        await RunAsync(build: true);
        _site.Page("about/index.html", """<a href="/gone/">gone</a>""");

        var deployed = await RunAsync(build: false);

        Assert.Equal(SiteCheckOutcome.Checked, deployed.Outcome);
        Assert.Equal(["/gone/"], deployed.Result!.BrokenLinks.Select(b => b.Link));
        Assert.Contains(_log, l => l.Contains("is for another site or other rules"));
    }

    [Fact]
    public async Task A_changed_mode_is_a_different_site()
    {
        if (OperatingSystem.IsWindows()) return;
        await RunAsync(build: true);
        File.SetUnixFileMode(Path.Join(_site.Directory, "index.html"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        Assert.Equal(SiteCheckOutcome.Checked, (await RunAsync(build: false)).Outcome);
    }

    [Fact]
    public async Task Other_rules_are_checked_again()
    {
        await RunAsync(build: true);

        var deployed = await RunAsync(build: false, SiteConfig.Parse("url: https://blog.example.com/sub\nroot: /sub/\n"));

        Assert.Equal(SiteCheckOutcome.Checked, deployed.Outcome);
        Assert.False(deployed.Result!.Succeeded);
    }

    [Fact]
    public async Task A_record_of_another_checker_version_or_a_failed_check_vouches_for_nothing()
    {
        var hash = (await Manifest.CreateAsync(_site.Directory, CancellationToken.None)).Hash;
        var good = new SiteCheckRecord(SiteCheckRecord.CurrentFormat, hash, SiteCheckRecord.RulesOf(Blog), true, 2, 3, 4, DateTimeOffset.UnixEpoch);

        Assert.True(good.Vouches(hash, Blog));
        Assert.False((good with { Succeeded = false }).Vouches(hash, Blog));
        Assert.False((good with { Format = SiteCheckRecord.CurrentFormat + 1 }).Vouches(hash, Blog));
        Assert.False((good with { RulesHash = new string('0', 64) }).Vouches(hash, Blog));
        Assert.False(good.Vouches(new string('1', 64), Blog));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{}")]
    [InlineData("""{"format":1,"manifest":"short","rules":"x","succeeded":true}""")]
    public async Task An_unreadable_record_means_checking(string content)
    {
        await File.WriteAllTextAsync(RecordPath, content);

        Assert.Null(await SiteCheckRecord.ReadAsync(RecordPath, CancellationToken.None));
        Assert.Equal(SiteCheckOutcome.Checked, (await RunAsync(build: false)).Outcome);
    }

    [Fact]
    public async Task A_failing_build_check_removes_the_record_of_an_earlier_build()
    {
        await RunAsync(build: true);
        Assert.True(File.Exists(RecordPath));
        _site.Page("about/index.html", """<a href="/gone/">gone</a>""");

        var built = await RunAsync(build: true);

        Assert.False(built.Result!.Succeeded);
        Assert.False(File.Exists(RecordPath));
    }

    [Fact]
    public async Task A_deploy_that_checked_for_itself_writes_no_record()
    {
        var deployed = await RunAsync(build: false);

        Assert.Equal(SiteCheckOutcome.Checked, deployed.Outcome);
        Assert.True(deployed.Result!.Succeeded);
        Assert.False(File.Exists(RecordPath));
    }
}
