using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using Build.Sandbox;
using Build.Tests.Support;
using Xunit.Abstractions;

namespace Build.Tests.Sandbox;

/// <summary>
/// <c>./build.sh --target=Sandbox</c> as a whole process in a fresh repository: it builds the blog,
/// starts two real servers (sshd + nginx), deploys through the production Deploy, and leaves them
/// serving; a second run reuses them and sends a delta; <c>--sandbox</c> points other targets at them.
/// </summary>
[Collection(SandboxCollection.Name)]
[Trait("Category", "Integration")]
[UnsupportedOSPlatform("windows")]
public sealed class SandboxTargetTests(SandboxFixture sandbox, ITestOutputHelper output)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(20) };

    private static string BlogTitle =>
        Regex.Match(File.ReadAllText(Repo.File("site", "_config.yml")), @"^title:\s*(.+)$", RegexOptions.Multiline).Groups[1].Value.Trim();

    [Fact]
    public async Task Sandbox_builds_the_blog_and_both_servers_serve_its_home_page_after_the_command_exits()
    {
        var run = sandbox.FirstRun;
        output.WriteLine(run.Text[^Math.Min(run.Text.Length, 3000)..]);
        Assert.True(run.ExitCode == 0, run.Text);
        Assert.Contains("Generated", run.Stdout); // the blog was built, not taken ready-made

        var urls = SandboxRepo.Urls(run);
        Assert.Equal(2, urls.Count);
        Assert.NotEqual(urls[0], urls[1]);
        foreach (var url in urls)
        {
            using var response = await Http.GetAsync(url);
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            Assert.Contains($"<title>{BlogTitle}", body);
            Assert.Contains("article-title", body);
        }

        var state = sandbox.Repo.State!;
        Assert.True(state.IsRunning);
        // As root it logs in as the unprivileged account, never as root.
        Assert.Equal(LoginAccount.RunningAsRoot ? LoginAccount.TestUser : Environment.UserName, state.User);
        Assert.Equal("600", Convert.ToString((int)File.GetUnixFileMode(state.DeployKey), 8));
        Assert.Matches(@"Stop: \./build\.sh --target=SandboxStop", run.Stdout);
        var released = (string)sandbox.Repo.Report()["release_id"]!;
        Assert.Contains($"serves release {released}", run.Stdout);
        Assert.All(state.Servers, s => Assert.Equal(released, SandboxTargets.ServedRelease(s)));
    }

    [Fact]
    public async Task A_second_run_after_changing_a_post_reuses_the_servers_and_deploys_only_the_delta()
    {
        var before = sandbox.Repo.State!;
        var firstRelease = SandboxTargets.ServedRelease(before.Servers[0]);
        var post = Path.Join(sandbox.Repo.Root, "site", "source", "_posts", "rollbacks.md");
        var marker = $"Edited for the sandbox test {Guid.NewGuid():N}.";
        await File.AppendAllTextAsync(post, $"\n\n{marker}\n");

        var run = await sandbox.Repo.RunAsync("--target=Sandbox");
        output.WriteLine(run.Text[^Math.Min(run.Text.Length, 3000)..]);
        Assert.True(run.ExitCode == 0, run.Text);
        Assert.Contains("Reusing the running sandbox", run.Stdout);
        Assert.Equal(before.Daemons.Select(d => d.Pid), sandbox.Repo.State!.Daemons.Select(d => d.Pid));

        var report = sandbox.Repo.Report();
        var release = (string)report["release_id"]!;
        Assert.NotEqual(firstRelease, release);
        foreach (var server in report["servers"]!.AsArray())
        {
            Assert.Equal("deployed", (string?)server!["outcome"]);
            var sent = (int)server["files_sent"]!;
            var linked = (int)server["files_linked"]!;
            Assert.InRange(sent, 1, 10);
            Assert.True(linked > sent, $"a delta links the unchanged files: {sent} sent, {linked} linked");
        }
        var urls = SandboxRepo.Urls(run);
        var page = await Http.GetStringAsync(urls[1] + "2026/09/29/rollbacks/");
        Assert.Contains(marker, page);
    }

    [Fact]
    public async Task The_sandbox_flag_points_Releases_at_the_running_sandbox_and_refuses_settings_it_supplies()
    {
        var releases = await sandbox.Repo.RunAsync("--target=Releases", "--sandbox");
        Assert.True(releases.ExitCode == 0, releases.Text);
        Assert.Contains("server1", releases.Stdout);
        Assert.Contains("server2", releases.Stdout);
        // The sandbox checks health, so Releases names what each web server serves next to current.
        Assert.Contains("[current, web server serves ", releases.Stdout);

        foreach (var clash in new[] { "--hosts=web=192.0.2.10", "--ssh-key=/nonexistent", "--known-hosts=/nonexistent", "--tailnet=join" })
        {
            var deploy = await sandbox.Repo.RunAsync("--target=Deploy", "--sandbox", clash);
            Assert.True(deploy.ExitCode == 2, deploy.Text);
            Assert.Contains($"{clash.Split('=')[0]} cannot be combined with --sandbox", deploy.Text);
        }
        var target = await sandbox.Repo.RunAsync("--target=Sandbox", "--hosts=web=192.0.2.10");
        Assert.True(target.ExitCode == 2, target.Text);
        Assert.Contains("--hosts cannot be combined with --target=Sandbox", target.Text);
    }

    [ChromiumFact]
    public async Task Chromium_renders_the_sandboxed_blog_with_its_stylesheet_applied()
    {
        var url = sandbox.Repo.State!.Servers[0].Url;
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var chromium = await HeadlessChromium.StartAsync(new Uri(url).Host, bound.Token);
        await chromium.NavigateAsync(url, bound.Token);
        // Waits (bounded) for the theme's stylesheet, then reads what the browser computed.
        var page = (await chromium.EvaluateAsync("""
            (async () => {
              const sheet = () => [...document.styleSheets].find(s => (s.href || '').endsWith('/css/style.css'));
              const deadline = Date.now() + 20000;
              while (!(sheet() && sheet().cssRules.length > 0) && Date.now() < deadline) await new Promise(r => setTimeout(r, 50));
              const body = getComputedStyle(document.body);
              return {
                title: document.title,
                posts: [...document.querySelectorAll('a.article-title')].map(a => a.getAttribute('href')),
                background: body.backgroundColor,
                fontSize: body.fontSize,
              };
            })()
            """, bound.Token))!;
        output.WriteLine(page.ToJsonString());

        Assert.Equal(BlogTitle, (string?)page["title"]);
        Assert.NotEmpty(page["posts"]!.AsArray());
        // The landscape theme's body is #eee at 14px; unstyled, Chromium's is transparent at 16px.
        Assert.Equal("rgb(238, 238, 238)", (string?)page["background"]);
        Assert.Equal("14px", (string?)page["fontSize"]);

        var png = await chromium.ScreenshotAsync(bound.Token);
        Assert.True(png.Length > 10_000 && png[..4].SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47 }), $"a PNG screenshot ({png.Length} bytes)");
        var file = Repo.File("artifacts", "sandbox", "home.png");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllBytesAsync(file, png);
        output.WriteLine($"screenshot: {file}");
    }
}
