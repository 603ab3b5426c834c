using Build.Site;

namespace Build.Tests.Site;

public sealed class SiteDependenciesTests : IDisposable
{
    private readonly TempSite _site = new();

    public SiteDependenciesTests()
    {
        _site.File("package.json", """{ "name": "blog", "dependencies": { "hexo": "~8.1.2" } }""")
            .File("package-lock.json", """{ "lockfileVersion": 3, "packages": { "node_modules/hexo": { "version": "8.1.2" } } }""");
    }

    public void Dispose() => _site.Dispose();

    private SiteDependencies Dependencies => new(_site.Directory);

    private void InstallHexo() => _site.File("node_modules/hexo/package.json", """{ "name": "hexo", "version": "8.1.2" }""");

    [Fact]
    public void Without_node_modules_an_install_is_needed()
    {
        Assert.Equal("node_modules does not exist", Dependencies.WhyInstall());
        Assert.False(Dependencies.IsUpToDate());
    }

    [Fact]
    public void Node_modules_not_installed_by_the_pipeline_is_reinstalled()
    {
        InstallHexo();

        Assert.Equal("node_modules was not installed by this pipeline's npm ci", Dependencies.WhyInstall());
    }

    [Fact]
    public void After_a_recorded_install_the_next_run_skips()
    {
        InstallHexo();
        Dependencies.MarkInstalled();

        Assert.Null(Dependencies.WhyInstall());
        Assert.True(new SiteDependencies(_site.Directory).IsUpToDate());
    }

    [Fact]
    public void A_changed_lock_file_needs_an_install()
    {
        InstallHexo();
        Dependencies.MarkInstalled();
        _site.File("package-lock.json", """{ "lockfileVersion": 3, "packages": { "node_modules/hexo": { "version": "8.1.3" } } }""");

        Assert.Equal("package-lock.json or package.json changed since the last npm ci", Dependencies.WhyInstall());
    }

    [Fact]
    public void A_changed_package_json_needs_an_install()
    {
        InstallHexo();
        Dependencies.MarkInstalled();
        _site.File("package.json", """{ "name": "blog", "dependencies": { "hexo": "~8.1.2", "hexo-server": "^3.0.0" } }""");

        Assert.False(Dependencies.IsUpToDate());
    }

    [Fact]
    public void A_stamp_without_hexo_needs_an_install()
    {
        InstallHexo();
        Dependencies.MarkInstalled();
        Directory.Delete(Path.Join(_site.Directory, "node_modules", "hexo"), recursive: true);

        Assert.Equal("hexo is not installed in node_modules", Dependencies.WhyInstall());
    }

    [Fact]
    public void A_missing_lock_file_is_an_error_that_says_what_to_do()
    {
        File.Delete(Path.Join(_site.Directory, "package-lock.json"));

        var e = Assert.Throws<PipelineException>(() => Dependencies.WhyInstall());

        Assert.Contains("package-lock.json is missing", e.Message);
    }
}
