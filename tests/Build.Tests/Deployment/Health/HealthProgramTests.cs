using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Build.Tests.Support;
using Xunit.Abstractions;

namespace Build.Tests.Deployment.Health;

/// <summary>
/// The whole program (the built Build.dll) with <c>--health-url</c> against real sshd and nginx: bad input exits 2,
/// Releases shows what the web server serves, an unhealthy server switches the fleet back and exits 3.
/// </summary>
[Collection(DeployCollection.Name)]
[Trait("Requires", "FrostingHost")]
[UnsupportedOSPlatform("windows")]
public sealed class HealthProgramTests(DeployServers servers, ITestOutputHelper output)
{
    [Fact]
    public async Task Health_settings_reports_releases_and_exit_codes()
    {
        await using var bed = new DeployBed(servers, count: 2);
        await using var web = await WebServers.StartAsync(bed);
        var url = $"--health-url={web.UrlTemplate}";

        // Bad input, before anything changes on a server: a URL naming no server for two servers; a site with its own marker.
        bed.Generate(files: 6, version: "v1");
        var same = await RunAsync(bed, "--target=Deploy", $"--health-url=http://127.0.0.2:{web.Port}/.well-known/release");
        Assert.Equal(2, same.ExitCode);
        Assert.Contains("--health-url", same.Text);
        Assert.False(Directory.Exists(bed.RootOf("server1")));
        bed.Write(".well-known/release", "mine\n");
        var own = await RunAsync(bed, "--target=Deploy", url);
        Assert.Equal(2, own.ExitCode);
        Assert.Contains("--release-marker", own.Text);
        Assert.False(Directory.Exists(Path.Join(bed.RootOf("server1"), "releases")));
        File.Delete(Path.Join(bed.Site, ".well-known", "release"));

        var first = await RunAsync(bed, "--target=Deploy", url, "--health-path=/,/atom.xml", "--health-timeout=10s");
        Assert.Equal(0, first.ExitCode);
        var firstId = bed.CurrentId("server1")!;
        var releases = await RunAsync(bed, "--target=Releases", url);
        Assert.Equal(0, releases.ExitCode);
        Assert.Contains($"[current, web server serves {firstId}]", releases.Text);

        // server2's web server serves a fixed copy of the first release, not <root>/current.
        await web["server2"].RestartWithRootAsync(Path.Join(bed.RootOf("server2"), "releases", firstId));
        bed.Generate(files: 6, seed: 2, version: "v2");
        var second = await RunAsync(bed, "--target=Deploy", url, "--health-timeout=3s");
        Assert.Equal(3, second.ExitCode);
        Assert.Equal(firstId, bed.CurrentId("server1"));
        Assert.Equal(firstId, bed.CurrentId("server2"));
        var json = JsonNode.Parse(File.ReadAllText(Path.Join(second.Artifacts, "deploy-report.json")))!;
        var lines = json["servers"]!.AsArray().ToDictionary(s => (string)s!["server"]!, s => s!);
        Assert.Equal("switched-back", (string?)lines["server1"]["outcome"]);
        Assert.Equal("switched-back", (string?)lines["server2"]["outcome"]);
        Assert.True((bool?)lines["server1"]["healthy"]);
        Assert.False((bool?)lines["server2"]["healthy"]);
        var junit = XDocument.Load(Path.Join(second.Artifacts, "deploy-report.xml"));
        var failure = Assert.Single(junit.Descendants("failure"));
        Assert.Equal("server2", (string?)failure.Parent!.Attribute("name"));
        Assert.Contains("switched-back", second.Text);
        Assert.Contains("--server=server1,server2", second.Text);
    }

    private sealed record Run(int ExitCode, string Text, string Artifacts);

    private async Task<Run> RunAsync(DeployBed bed, params string[] arguments)
    {
        var work = Path.Join(bed.Workspace, "work-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.Join(work, "site"));
        // Deploy's CheckSite link-checks --site-dir against the Hexo config of the working directory's site/.
        File.WriteAllText(Path.Join(work, "site", "_config.yml"), "url: https://blog.example.com\nroot: /\nfeed:\n  type: atom\n  path: atom.xml\n");
        string[] defaults =
        [
            $"--working={work}", "--tailnet=off",
            $"--hosts={string.Join(',', bed.Targets().Select(t => $"{t.Name}={t.Address}:{t.Port}"))}", $"--site-dir={bed.Site}",
            $"--ssh-key={bed.Fixture[0].UserKey.PrivateKeyPath}", $"--known-hosts={bed.KnownHostsFile()}", $"--remote-root={bed.RemoteRoot}",
            $"--ssh-user={bed.User}", "--retries=2", "--retry-delay=50ms", "--connect-timeout=10s",
        ];
        var result = await PipelineProcess.RunAsync(defaults.Concat(arguments), work, new Dictionary<string, string>(), TimeSpan.FromSeconds(180));
        output.WriteLine($"$ {string.Join(' ', arguments)} -> {result.ExitCode}\n{result.Text}");
        return new Run(result.ExitCode, result.Text, Path.Join(work, "artifacts"));
    }
}
