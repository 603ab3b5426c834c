using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Reports;
using Build.Settings;
using Build.Tests.Deployment.Release;
using TestHosts;
using Xunit.Abstractions;

namespace Build.Tests.Deployment;

/// <summary>
/// Two real sshd servers (127.0.0.7-8) whose sessions find only BusyBox: sshd's <c>SetEnv PATH=</c> points at a
/// directory of BusyBox applet links (the tools the scripts assume and the optional ones), so the login shell runs
/// BusyBox <c>sh</c>, and the scripts BusyBox's tar, ls, gzip, sha256sum, as on an Alpine server.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class BusyBoxServers : DeployServers
{
    private readonly string _tools = CreateTools();

    public string Tools => _tools;

    protected override IReadOnlyList<string> Addresses => ["127.0.0.7", "127.0.0.8"];

    protected override SshServerOptions Options(string address) => new() { Address = address, SessionPath = _tools };

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_tools, recursive: true);
    }

    private static string CreateTools()
    {
        var directory = Directory.CreateTempSubdirectory("busybox-tools-").FullName;
        foreach (var tool in LocalShell.Required.Concat(LocalShell.Optional))
            File.CreateSymbolicLink(Path.Join(directory, tool), LocalShell.Which("busybox"));
        // The login user (unprivileged when the tests run as root) runs them.
        File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        return directory;
    }
}

[CollectionDefinition(Name)]
public sealed class BusyBoxCollection : ICollectionFixture<BusyBoxServers>
{
    public const string Name = "busybox-servers";
}

/// <summary>The deploy over real SSH to servers whose tools are BusyBox's.</summary>
[Collection(BusyBoxCollection.Name)]
[UnsupportedOSPlatform("windows")]
public sealed class BusyBoxServerTests(BusyBoxServers servers, ITestOutputHelper output)
{
    [Fact]
    public async Task The_remote_shell_and_its_tools_are_busybox()
    {
        await using var bed = new DeployBed(servers, count: 1);
        using var connection = await bed.Connector().ConnectAsync(bed.Targets()[0], CancellationToken.None);
        // What the deploy's own command line does: sh -c SCRIPT, here asking which programs it runs.
        var result = await connection.Shell.RunAsync("""
            echo "path=$PATH"
            ls -l /proc/$$/exe
            tar --help 2>&1
            ls --help 2>&1
            echo "tar=$(command -v tar) sha256sum=$(command -v sha256sum)"
            """, [], null, CancellationToken.None);
        output.WriteLine(result.Output);

        Assert.True(result.Succeeded, result.Error);
        Assert.Contains($"path={servers.Tools}", result.Output);
        Assert.Contains("-> /usr/bin/busybox", result.Output); // the shell itself
        Assert.Contains("BusyBox v", result.Output); // its tar and ls, not GNU's
        Assert.DoesNotContain("GNU", result.Output);
        Assert.Contains($"tar={servers.Tools}/tar sha256sum={servers.Tools}/sha256sum", result.Output);
    }

    [Theory]
    [InlineData(SwitchMode.Together)]
    [InlineData(SwitchMode.Independent)]
    public async Task Deploy_delta_unchanged_and_rollback_work_with_busybox_tools(SwitchMode mode)
    {
        await using var bed = new DeployBed(servers, count: 2);
        bed.Generate(files: 40, bytesPerFile: 3000, version: "v1");
        var first = await bed.DeployAsync(bed.FanOut(mode: mode));
        output.WriteLine(bed.Progress.ToString());
        Assert.All(first.Servers, s => Assert.Equal(Outcome.Deployed, s.Outcome));
        Assert.Contains(bed.Progress.Lines, l => l.Contains("stream hashes match", StringComparison.Ordinal)); // BusyBox sha256sum, tee, mkfifo

        bed.Write("index.html", "<html><body>v2</body></html>\n");
        var second = await bed.DeployAsync(bed.FanOut(mode: mode));
        foreach (var s in second.Servers)
        {
            Assert.Equal(Outcome.Deployed, s.Outcome);
            Assert.Equal(1, s.FilesSent);
            Assert.Equal(41, s.FilesLinked);
            bed.AssertCurrentIsSite(s.Server);
            var linked = Path.Join(bed.RootOf(s.Server), "releases", "{0}", "2026/01/post-0/index.html");
            Assert.Equal(ReleaseTestKit.Inode(string.Format(System.Globalization.CultureInfo.InvariantCulture, linked, first.ReleaseId)),
                ReleaseTestKit.Inode(string.Format(System.Globalization.CultureInfo.InvariantCulture, linked, second.ReleaseId)));
        }

        var third = await bed.DeployAsync(bed.FanOut(mode: mode));
        Assert.All(third.Servers, s => Assert.Equal(Outcome.Unchanged, s.Outcome));

        var back = await bed.RollbackAsync();
        Assert.All(back.Servers, s => Assert.Equal(Outcome.RolledBack, s.Outcome));
        foreach (var s in back.Servers)
        {
            Assert.Equal(first.ReleaseId, bed.CurrentId(s.Server));
            Assert.False(bed.Locked(s.Server));
        }
    }
}
