using Build.Output;
using Build.Processes;
using Build.Site;

namespace Build.Tests.Site;

/// <summary>
/// The runner around Hexo, driven with real child processes: node running a small stand-in for
/// Hexo's entry script (the real Hexo runs in <see cref="HexoSiteIntegrationTests"/>), and real npm.
/// </summary>
public sealed class SiteBuilderTests : IDisposable
{
    private readonly TempSite _site = new();
    private readonly List<string> _info = [];
    private readonly List<string> _verbose = [];

    public void Dispose() => _site.Dispose();

    private SiteBuilder Builder() => new(
        new ProcessRunner(Redactor.None),
        new SiteDependencies(_site.Directory),
        line => { lock (_info) _info.Add(line); },
        line => { lock (_verbose) _verbose.Add(line); });

    // Behaves like `hexo generate` as far as the runner can see: writes public/, prints Hexo's lines.
    private const string StandIn = """
        const fs = require('fs');
        if (process.argv[2] !== 'generate') { console.error('expected generate, got ' + process.argv[2]); process.exit(3); }
        if (fs.existsSync('fail')) { console.error('FATAL Something went wrong'); process.exitCode = 2; return; }
        if (fs.existsSync('public/stale.html')) { console.error('public/ was not emptied'); process.exit(4); }
        if (fs.existsSync('db.json')) { console.error('db.json was not removed'); process.exit(5); }
        fs.mkdirSync('public', { recursive: true });
        fs.writeFileSync('public/index.html', '<html></html>');
        fs.writeFileSync('db.json', '{}');
        console.log('INFO  Validating config NO_COLOR=' + process.env.NO_COLOR);
        console.log('INFO  Generated: index.html');
        console.log('INFO  Generated: atom.xml');
        console.log('INFO  2 files generated in 1.5 s');
        """;

    [Fact]
    public async Task Generate_starts_from_an_empty_public_folder_and_reports_hexos_own_time()
    {
        _site.File("node_modules/hexo/bin/hexo", StandIn)
            .File("public/stale.html", "from a deleted post")
            .File("db.json", "{}");

        var result = await Builder().GenerateAsync(CancellationToken.None);

        Assert.Equal(2, result.Files);
        Assert.Equal(TimeSpan.FromSeconds(1.5), result.HexoTime);
        Assert.False(File.Exists(Path.Join(_site.Directory, "public", "stale.html")));
        Assert.True(File.Exists(Path.Join(_site.Directory, "public", "index.html")));
        Assert.Equal(["INFO  Generated: index.html", "INFO  Generated: atom.xml"], _verbose);
        Assert.Contains("INFO  Validating config NO_COLOR=1", _info);
        Assert.Contains("INFO  2 files generated in 1.5 s", _info);
    }

    [Fact]
    public async Task A_failing_hexo_fails_the_step_with_its_output()
    {
        _site.File("node_modules/hexo/bin/hexo", StandIn).File("fail");

        var e = await Assert.ThrowsAsync<PipelineException>(() => Builder().GenerateAsync(CancellationToken.None));

        Assert.Contains("exit code 2", e.Message);
        Assert.Contains("FATAL Something went wrong", e.Message);
    }

    [Fact]
    public async Task Without_hexo_installed_the_error_says_which_task_installs_it()
    {
        var e = await Assert.ThrowsAsync<PipelineException>(() => Builder().GenerateAsync(CancellationToken.None));

        Assert.Contains("InstallSiteDependencies", e.Message);
    }

    [Fact]
    public void Clean_removes_public_and_db_json_only()
    {
        _site.File("public/index.html").File("db.json", "{}").File("source/_posts/a.md");

        SiteBuilder.DeleteOutput(_site.Directory);

        Assert.False(Directory.Exists(Path.Join(_site.Directory, "public")));
        Assert.False(File.Exists(Path.Join(_site.Directory, "db.json")));
        Assert.True(File.Exists(Path.Join(_site.Directory, "source/_posts/a.md")));
        SiteBuilder.DeleteOutput(_site.Directory); // nothing left to remove is fine
    }

    [Fact]
    public async Task A_failed_npm_ci_leaves_no_stamp()
    {
        // A lock file out of step with package.json: real npm refuses before touching the network.
        _site.File("package.json", """{ "name": "blog", "version": "1.0.0", "dependencies": { "left-pad": "1.3.0" } }""")
            .File("package-lock.json", """{ "name": "blog", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": { "": { "name": "blog", "version": "1.0.0" } } }""");

        var e = await Assert.ThrowsAsync<PipelineException>(() => Builder().InstallAsync(CancellationToken.None));

        Assert.Contains("npm ci", e.Message);
        Assert.False(File.Exists(new SiteDependencies(_site.Directory).StampFile));
    }
}
