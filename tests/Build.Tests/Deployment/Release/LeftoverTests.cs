using System.Diagnostics;
using System.Runtime.Versioning;
using Build.Deployment.Release;
using Build.Tests.Support;

namespace Build.Tests.Deployment.Release;

/// <summary>Interrupted runs leave nothing behind: an upload part's work directory (.deploy/tmp.&lt;pid&gt;: fifo, err, sum).</summary>
[UnsupportedOSPlatform("windows")]
public sealed class LeftoverTests
{
    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task The_next_run_removes_work_directories_left_under_its_lock(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(6, 1000);
        await kit.DeployAsync();
        var left = Path.Join(kit.Root, ".deploy", "tmp.4242");
        Directory.CreateDirectory(left);
        File.WriteAllText(Path.Join(left, "err"), "");

        kit.Generate(6, 1000, seed: 2);
        await kit.DeployAsync();
        Assert.Empty(Directory.GetDirectories(Path.Join(kit.Root, ".deploy"), "tmp.*"));
    }

    [Theory]
    [InlineData("dash")]
    [InlineData("busybox")]
    public async Task An_upload_part_whose_client_went_away_removes_its_work_directory(string shell)
    {
        // What sshd does to the part when the client is interrupted: stdin ends and stdout is closed, so the
        // script's next write gets SIGPIPE, which used to kill sh before its EXIT trap could remove tmp.
        using var dir = new TempDir("leftover");
        var root = dir.Path;
        Directory.CreateDirectory(Path.Join(root, "releases"));
        Directory.CreateDirectory(Path.Join(root, ".deploy", "lock"));
        File.WriteAllText(Path.Join(root, ".deploy", "lock", "owner"), "run=run-x\ntarget=web\n");
        var start = new ProcessStartInfo(shell == "busybox" ? "busybox" : "dash")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        if (shell == "busybox") start.ArgumentList.Add("sh");
        foreach (var a in new[] { "-c", RemoteScripts.Upload, "sh", root, "run-x/web" }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync("20260101T000000Z-0123abcd 1 1 - 0 1 nonce\n");
        await process.StandardInput.FlushAsync();
        await Poll.UntilAsync(() => Directory.GetDirectories(Path.Join(root, ".deploy"), "tmp.*").Length > 0, TimeSpan.FromSeconds(20), "the part's work directory");

        process.StandardOutput.Close();
        process.StandardInput.Close();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Empty(Directory.GetDirectories(Path.Join(root, ".deploy"), "tmp.*"));
    }
}
