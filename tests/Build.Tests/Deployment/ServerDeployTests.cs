using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Progress;
using Build.Deployment.Release;
using Build.Deployment.Reports;
using Build.Tests.Deployment.Release;

namespace Build.Tests.Deployment;

/// <summary>
/// One server's lifecycle (<see cref="ServerDeploy"/>) where the protocol alone cannot tell what happened: a switch
/// whose reply was lost (here the upload's, which switches a lone server as it ends). Through the production path,
/// against a local shell.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class ServerDeployTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public async Task An_upload_that_switched_and_whose_reply_was_lost_is_found_to_have_happened_and_not_repeated(int attempts)
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        var (first, candidate) = await SecondReleaseWhoseUploadReplyIsLostAsync(kit);
        var deploy = await kit.TryDeployAsync(candidate, attempts: attempts);

        Assert.Equal(ServerStage.Finished, deploy.Stage);
        Assert.Equal(Outcome.Deployed, deploy.Report.Outcome);
        Assert.Equal(candidate.ReleaseId, deploy.Report.ReleaseId);
        Assert.Equal(first.Id(), deploy.Previous);
        Assert.Null(deploy.Switch); // its result never arrived
        Assert.Contains(kit.Progress.Lines, l => l.Contains("the upload's reply was lost", StringComparison.Ordinal));
        Assert.Equal(candidate.ReleaseId, kit.CurrentId());
        // Switched once: one log line for it, whose from= keeps the rollback target right; the lock is free.
        var log = File.ReadAllLines(Path.Join(kit.Root, ".deploy", "log"));
        Assert.Single(log, l => l.Contains($"release={candidate.ReleaseId}", StringComparison.Ordinal));
        Assert.Contains($"from={first.Id()}", log[^1]);
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
        Assert.Equal(first.Id(), (await kit.Session().InspectAsync(false, CancellationToken.None)).RollbackTarget);
    }

    [Fact]
    public async Task An_upload_that_switched_and_whose_reply_was_lost_on_a_server_that_cannot_be_asked_again_says_so()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        var (first, candidate) = await SecondReleaseWhoseUploadReplyIsLostAsync(kit);
        kit.ReconnectsAfterCut = false;
        var deploy = await kit.TryDeployAsync(candidate, attempts: 2);

        Assert.Equal(ServerStage.Failed, deploy.Stage);
        Assert.True(deploy.Report.ServingUnknown);
        Assert.Null(deploy.Report.ReleaseId);
        Assert.Contains($"whether it serves {first.Id()} or {candidate.ReleaseId} could not be read", deploy.Report.Error);
        var report = new DeployReport { Operation = "deploy", StartedAt = DateTimeOffset.UnixEpoch, ReleaseId = candidate.ReleaseId, Servers = [deploy.Report] };
        var headline = DeploySummary.Headline(report, TimeSpan.Zero);
        Assert.DoesNotContain("Deployed release", headline);
        Assert.Contains($"local serves {first.Id()} or {candidate.ReleaseId}: it could not be asked (failed)", headline);
        Assert.Equal(["local"], DeploySummary.RetryServers(report));
    }

    /// <summary>
    /// A first release deployed, and the candidate of a second whose upload (which switches the lone server) goes
    /// through on the server while the connection dies before its reply reaches the client.
    /// </summary>
    private static async Task<(ServerDeploy First, ReleaseCandidate Candidate)> SecondReleaseWhoseUploadReplyIsLostAsync(ReleaseTestKit kit)
    {
        kit.Write("index.html", "one");
        var first = await kit.DeployAsync();
        kit.Write("index.html", "two");
        var candidate = await kit.CandidateAsync();
        kit.Shell.LoseReplyOf = RemoteScripts.Upload;
        kit.Shell.LoseReplyHolding = "@switched";
        return (first, candidate);
    }

    [Fact]
    public async Task A_lone_server_switches_as_its_upload_ends_without_a_command_of_its_own()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        kit.Write("index.html", "one");
        var first = await kit.DeployAsync();
        kit.Write("index.html", "two");

        var deploy = await kit.DeployAsync();

        // The upload switched: no switch command ran, none was started ahead.
        Assert.False(kit.Shell.Ran(RemoteScripts.Switch));
        Assert.Equal(Outcome.Deployed, deploy.Report.Outcome);
        Assert.Equal(deploy.Report.ReleaseId, kit.CurrentId());
        Assert.Equal(first.Id(), deploy.Switch!.PreviousReleaseId);
        Assert.Equal("two", File.ReadAllText(Path.Join(kit.Current, "index.html")));
        Assert.Contains(kit.Progress.Lines, l => l.StartsWith("local: switch ", StringComparison.Ordinal) && l.Contains("(as the upload ended)", StringComparison.Ordinal));
        var log = File.ReadAllLines(Path.Join(kit.Root, ".deploy", "log"));
        Assert.Contains($"release={deploy.Report.ReleaseId}", log[^1]);
        Assert.Contains($"from={first.Id()}", log[^1]);
        Assert.False(Directory.Exists(Path.Join(kit.Root, ".deploy", "lock")));
    }

    [Fact]
    public async Task A_step_out_of_order_is_refused_by_the_lifecycle()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        kit.Write("index.html", "one");
        var deploy = await kit.DeployAsync();
        Assert.Equal(ServerStage.Finished, deploy.Stage);
        var again = await kit.DeployAsync();
        Assert.Equal(Outcome.Unchanged, again.Report.Outcome);
        Assert.Null(again.Upload);

        // A finished server is never switched, held back or switched back afterwards.
        await Assert.ThrowsAsync<InvalidOperationException>(() => again.SwitchAsync(CancellationToken.None));
        await Assert.ThrowsAsync<InvalidOperationException>(() => again.HoldBackAsync("no"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => deploy.SwitchBackAsync("no", CancellationToken.None));
        Assert.Throws<InvalidOperationException>(deploy.Finish);
        Assert.Equal(ServerStage.Finished, again.Stage);
        Assert.Equal(Outcome.Unchanged, again.Report.Outcome);
    }

    [Fact]
    public void Every_phase_that_ends_a_server_completes_its_live_bar()
    {
        // The live list (an interactive terminal) completes a server's bar on the phase that ends its part: a server
        // held back under --switch=together, or switched back, must not be left with a bar stuck half way.
        var ending = new[] { DeployPhase.Switched, DeployPhase.Unchanged, DeployPhase.Failed, DeployPhase.Planned, DeployPhase.RolledBack, DeployPhase.HeldBack, DeployPhase.SwitchedBack };
        foreach (var phase in Enum.GetValues<DeployPhase>())
        {
            var task = new Spectre.Console.ProgressTask(1, "s", 100);
            task.Value = 10;
            new ProgressDisplay.LiveProgress(new Dictionary<string, Spectre.Console.ProgressTask> { ["s"] = task }).Phase("s", phase, "detail");
            Assert.Equal(ending.Contains(phase), task.IsFinished);
            Assert.Contains(phase.Text(), task.Description);
        }
        Assert.Equal("held-back", DeployPhase.HeldBack.Text());
        Assert.Equal("would-send", DeployPhase.WouldSend.Text());
        Assert.Equal("switched-back", Outcome.SwitchedBack.Text());
        Assert.Equal("\"rolled-back\"", System.Text.Json.JsonSerializer.Serialize(Outcome.RolledBack));
        Assert.Equal("\"held-back\"", System.Text.Json.JsonSerializer.Serialize(DeployPhase.HeldBack));
    }
}
