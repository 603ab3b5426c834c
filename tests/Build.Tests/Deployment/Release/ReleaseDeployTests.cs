using Build.Deployment.Release;
using Build.Deployment.Reports;

using System.Runtime.Versioning;

namespace Build.Tests.Deployment.Release;

[UnsupportedOSPlatform("windows")]
public sealed class ReleaseDeployTests
{
    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Deploys_a_delta_hard_links_the_rest_and_skips_unchanged_content(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(40, 3000);
        kit.Write("index.html", "<h1>home</h1>");
        kit.Write("old/page.html", "to be deleted");

        var first = await kit.DeployAsync();
        Assert.Equal(Outcome.Deployed, first.Report.Outcome);
        Assert.Null(first.Report.PreviousReleaseId);
        Assert.Equal(42, first.Upload!.FilesSent);
        Assert.Equal(0, first.Upload.FilesLinked);
        Assert.Equal(first.Id(), kit.CurrentId());
        Assert.Equal($"releases/{first.Id()}", new FileInfo(kit.Current).LinkTarget);
        Assert.True(first.Upload.StreamHashVerified);
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
        Assert.True(File.Exists(Path.Join(kit.Root, ".deploy", "manifests", first.Id() + ".json")));

        kit.Write("index.html", "<h1>home, edited</h1>");
        File.Delete(Path.Join(kit.Site, "old", "page.html"));
        Directory.Delete(Path.Join(kit.Site, "old"));
        var second = await kit.DeployAsync();
        Assert.Equal(Outcome.Deployed, second.Report.Outcome);
        Assert.Equal(first.Id(), second.Report.PreviousReleaseId);
        Assert.Equal(1, second.Upload!.FilesSent);
        Assert.Equal(40, second.Upload.FilesLinked);
        Assert.Equal(1, second.Upload.FilesRemoved);
        Assert.Equal(second.Id(), kit.CurrentId());
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
        Assert.False(File.Exists(Path.Join(kit.Current, "old", "page.html")));

        // Unchanged files are the same inodes as in the previous release; the changed one is not.
        var linked = "2025/01/post-0/index.html";
        Assert.Equal(ReleaseTestKit.Inode(Path.Join(kit.ReleaseDir(first.Id()), linked)), ReleaseTestKit.Inode(Path.Join(kit.ReleaseDir(second.Id()), linked)));
        Assert.NotEqual(ReleaseTestKit.Inode(Path.Join(kit.ReleaseDir(first.Id()), "index.html")), ReleaseTestKit.Inode(Path.Join(kit.ReleaseDir(second.Id()), "index.html")));
        Assert.Equal("<h1>home</h1>", File.ReadAllText(Path.Join(kit.ReleaseDir(first.Id()), "index.html")));

        var third = await kit.DeployAsync();
        Assert.Equal(Outcome.Unchanged, third.Report.Outcome);
        Assert.Equal(second.Id(), third.Id());
        Assert.Null(third.Upload);
        Assert.Equal(second.Id(), kit.CurrentId());
        Assert.Equal([first.Id(), second.Id()], kit.ReleaseNames());
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));

        var log = File.ReadAllLines(Path.Join(kit.Root, ".deploy", "log"));
        Assert.Equal(3, log.Length);
        Assert.Contains($"release={second.Id()}", log[1]);
        Assert.Contains("outcome=deployed", log[1]);
        Assert.Contains("commit=abc123", log[1]);
        Assert.Contains("pipeline=https://ci.example/pipeline/1", log[1]);
        Assert.Contains("outcome=unchanged", log[2]);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_mode_only_change_is_sent_and_leaves_the_live_file_alone(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Write("script.cgi", "#!/bin/sh\necho hi\n", 0b110_100_100);
        kit.Write("other.html", "other");
        var first = await kit.DeployAsync();
        var liveFile = Path.Join(kit.ReleaseDir(first.Id()), "script.cgi");
        var liveTime = File.GetLastWriteTimeUtc(liveFile);

        File.SetUnixFileMode(Path.Join(kit.Site, "script.cgi"), (UnixFileMode)0b111_101_101);
        var second = await kit.DeployAsync();

        Assert.Equal(1, second.Upload!.FilesSent);
        Assert.Equal(1, second.Upload.FilesLinked);
        Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(liveFile));
        Assert.Equal(liveTime, File.GetLastWriteTimeUtc(liveFile));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Join(kit.Current, "script.cgi")));
        Assert.NotEqual(ReleaseTestKit.Inode(liveFile), ReleaseTestKit.Inode(Path.Join(kit.Current, "script.cgi")));
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Awkward_file_names_round_trip(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        string[] names =
        [
            "with space.html", "quote'single.html", "quote\"double.html", "new\nline.html", "-leading-dash.html",
            "--rm -rf.html", "ünïcødé/日本語.html", "dollar $(touch pwned) `x`.html", "semi;colon&amp|pipe.html",
            "back\\slash.html", "tab\there.html", ".hidden", ".well-known/security.txt", "star*?[a].html",
            "deep/" + new string('d', 120) + "/" + new string('n', 150) + ".html", " leading-space.html", "trailing-space.html ",
            "-> arrow.html",
        ];
        foreach (var name in names)
            kit.Write(name, "content of " + name);
        var first = await kit.DeployAsync();
        Assert.Equal(names.Length, first.Upload!.FilesSent);
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
        Assert.False(File.Exists(Path.Join(kit.Root, "pwned")));
        Assert.False(File.Exists(Path.Join(kit.ReleaseDir(first.Id()), "pwned")));

        // Hard-link entries carry the same names: change one file, link all the awkward ones.
        kit.Write("index.html", "new");
        var second = await kit.DeployAsync();
        Assert.Equal(1, second.Upload!.FilesSent);
        Assert.Equal(names.Length, second.Upload.FilesLinked);
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
        foreach (var name in names)
            Assert.Equal(ReleaseTestKit.Inode(Path.Join(kit.ReleaseDir(first.Id()), name)), ReleaseTestKit.Inode(Path.Join(kit.Current, name)));
    }
}
