using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Build.Deployment.Reports;
using Build.Tests.Support;
using TestHosts;
using Xunit.Abstractions;

namespace Build.Tests.Deployment.Release;

/// <summary>
/// <see cref="SiteContentTests"/>'s cases against real sshd servers, with GNU and with BusyBox tools on the server side: the fan-out as
/// the deploy runs it, and the whole program for the refusals (exit 2, no server touched).
/// </summary>
[UnsupportedOSPlatform("windows")]
public abstract class SiteContentSshTests(DeployServers servers, ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Odd_names_loose_modes_and_a_link_inside_deploy_then_link_over_ssh()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 9);
        foreach (var (name, i) in SiteContentTests.OddNames.Select((n, i) => (n, i)))
            bed.Write(name, $"content {i}");
        bed.Write("loose/world.html", "written under umask 0000", 0b110_110_110);
        bed.Write("loose/tool.sh", "#!/bin/sh", 0b111_111_111);
        File.SetUnixFileMode(Path.Join(bed.Site, "loose"), (UnixFileMode)0b111_111_111);
        File.CreateSymbolicLink(Path.Join(bed.Site, "feed.xml"), "atom.xml");

        var first = await bed.DeployAsync().WaitAsync(Bound);
        Assert.Equal(Outcome.Deployed, Assert.Single(first.Servers).Outcome);
        var current = bed.Current("server1");
        foreach (var (name, i) in SiteContentTests.OddNames.Select((n, i) => (n, i)))
            Assert.Equal($"content {i}", File.ReadAllText(Path.Join(current, name)));
        Assert.Equal(File.ReadAllText(Path.Join(bed.Site, "atom.xml")), File.ReadAllText(Path.Join(current, "feed.xml")));
        Assert.Null(new FileInfo(Path.Join(current, "feed.xml")).LinkTarget);
        Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(Path.Join(current, "loose/world.html")));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Join(current, "loose/tool.sh")));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Join(current, "loose")));
        Assert.True(File.Exists(Path.Join(bed.RootOf("server1"), ".deploy", "manifests", first.ReleaseId + ".compact")));

        bed.Write("index.html", "v2");
        var second = Assert.Single((await bed.DeployAsync().WaitAsync(Bound)).Servers);
        Assert.Equal(Outcome.Deployed, second.Outcome);
        Assert.Equal(1, second.FilesSent);
        // Compared through the compact manifest the server printed (odd names and all), not a fallback that sends everything.
        Assert.DoesNotContain(bed.Progress.Lines, l => l.Contains("sending every file", StringComparison.Ordinal));
        Assert.Equal("v2", File.ReadAllText(Path.Join(bed.Current("server1"), "index.html")));
        Assert.Equal("content 0", File.ReadAllText(Path.Join(bed.Current("server1"), SiteContentTests.OddNames[0])));
    }

    [Fact]
    public async Task An_in_place_edit_on_the_server_is_sent_again_with_a_warning_over_ssh()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 9);
        bed.Write("-dash\nnew line é.html", "<p>original</p>");
        await bed.DeployAsync().WaitAsync(Bound);
        var live = Path.Join(bed.Current("server1"), "-dash\nnew line é.html");
        using (var stream = new FileStream(live, FileMode.Open, FileAccess.Write))
            stream.Write("<p>HOT FIX!</p>"u8);
        File.SetLastWriteTimeUtc(live, DateTime.UtcNow.AddSeconds(2));

        var report = Assert.Single((await bed.DeployAsync().WaitAsync(Bound)).Servers);

        Assert.Equal(Outcome.Deployed, report.Outcome);
        Assert.Equal(1, report.FilesSent);
        Assert.Equal("<p>original</p>", File.ReadAllText(Path.Join(bed.Current("server1"), "-dash\nnew line é.html")));
        var warning = Assert.Single(bed.Progress.Lines, l => l.StartsWith("server1: warning edited on the server", StringComparison.Ordinal));
        Assert.Contains("-dash\\nnew line é.html", warning);
    }

    [Fact]
    public async Task A_file_grown_during_the_read_fails_the_deploy_and_seals_nothing_over_ssh()
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 9);
        var first = (await bed.DeployAsync().WaitAsync(Bound)).ReleaseId;
        bed.Write("video.bin", new string('v', 2_000_000));
        var candidate = await bed.CandidateAsync();
        File.AppendAllText(Path.Join(bed.Site, "video.bin"), "grown");

        var report = new DeployReport { Operation = "deploy", StartedAt = DateTimeOffset.UtcNow, ReleaseId = candidate.ReleaseId };
        await bed.FanOut().DeployAsync(Task.FromResult(candidate), report, CancellationToken.None).WaitAsync(Bound);

        var server = Assert.Single(report.Servers);
        Assert.True(server.IsFailure);
        Assert.Contains("the site changed while deploying: video.bin", server.Error);
        Assert.Equal(first, bed.CurrentId("server1"));
        Assert.Equal(first, Assert.Single(bed.Releases("server1")));
        Assert.False(bed.Locked("server1"));
    }

    [Theory]
    [InlineData("link-out")]
    [InlineData("fifo")]
    [InlineData("socket")]
    [Trait("Requires", "FrostingHost")]
    public async Task The_program_refuses_what_is_not_a_file_with_exit_2_before_touching_a_server(string kind)
    {
        await using var bed = new DeployBed(servers, count: 1);
        bed.Generate(files: 6);
        var special = Path.Join(bed.Site, "assets", "special");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        switch (kind)
        {
            case "link-out":
                File.CreateSymbolicLink(special, "/etc/passwd");
                break;
            case "fifo":
                (await LocalProcess.RunAsync("mkfifo", [special])).EnsureSuccess("mkfifo");
                break;
            default:
                socket.Bind(new UnixDomainSocketEndPoint(special));
                break;
        }
        var work = Path.Join(bed.Workspace, "work");
        Directory.CreateDirectory(Path.Join(work, "site"));
        File.WriteAllText(Path.Join(work, "site", "_config.yml"), "url: https://blog.example.com\nroot: /\n");
        var target = bed.Targets()[0];

        var run = await PipelineProcess.RunAsync(
            [
                "--target=Deploy", $"--working={work}", "--tailnet=off", $"--hosts={target.Name}={target.Address}:{target.Port}",
                $"--site-dir={bed.Site}", $"--ssh-key={bed.Fixture[0].UserKey.PrivateKeyPath}", $"--known-hosts={bed.KnownHostsFile()}",
                $"--remote-root={bed.RemoteRoot}", $"--ssh-user={bed.User}", "--connect-timeout=10s",
            ],
            work, new Dictionary<string, string>(), Bound);
        output.WriteLine($"exit {run.ExitCode}\n{run.Text}");

        Assert.Equal(2, run.ExitCode);
        var text = run.Text.Replace('\n', ' ');
        Assert.Contains("assets/special", text);
        Assert.Contains(kind switch { "link-out" => "/etc/passwd", "fifo" => "FIFO", _ => "socket" }, text);
        // No server was touched: not even the remote root was created.
        Assert.False(Directory.Exists(bed.RootOf("server1")));
    }
}

/// <summary>The site-content cases against servers with GNU tools.</summary>
[Collection(DeployCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class SiteContentSshGnuTests(DeployServers servers, ITestOutputHelper output) : SiteContentSshTests(servers, output);

/// <summary>The site-content cases against servers whose sessions find only BusyBox's tools, as on Alpine.</summary>
[Collection(BusyBoxCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class SiteContentSshBusyBoxTests(BusyBoxServers servers, ITestOutputHelper output) : SiteContentSshTests(servers, output);
