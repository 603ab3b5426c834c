using Build.Tests.Support;
using Build.Tests.Tailnet;

namespace Build.Tests.Tailnet.Policy;

/// <summary>FindServers, against the tailnet simulator, compares what it found with the repository's policy file.</summary>
public sealed class FindServersPolicyTests
{
    [Fact]
    public async Task FindServers_warns_about_a_server_the_policy_does_not_let_the_CI_tags_reach_and_about_no_other()
    {
        using var sim = new SimTailnet();
        using var dir = new TempDir("policy-findservers");
        // tag:ci reaches tag:server2's SSH port only: server1 (tag:server1) is out of reach.
        var policy = dir.File("policy.hujson", """
            {
              "tagOwners": {"tag:ci": ["autogroup:admin"], "tag:server1": ["autogroup:admin"], "tag:server2": ["autogroup:admin"]},
              "acls": [{"action": "accept", "src": ["tag:ci"], "dst": ["tag:server2:22"]}],
            }
            """);

        var run = await Pipeline.RunAsync(sim, "--target=FindServers", "--tags=tag:server1,tag:server2", $"--policy-file={policy}");

        Assert.True(run.ExitCode == 0, run.Text);
        Assert.Matches(@"does not let tag:ci reach server1 \(tag:server1\) on port 22", run.Text);
        Assert.DoesNotContain("(tag:server2)", run.Text);
    }

    [Fact]
    public async Task FindServers_is_quiet_when_the_repositorys_policy_lets_the_CI_tags_reach_every_server()
    {
        using var sim = new SimTailnet();

        var run = await Pipeline.RunAsync(sim, "--target=FindServers", "--tags=tag:server1,tag:server2", $"--policy-file={Repo.File("tailnet", "policy.hujson")}");

        Assert.True(run.ExitCode == 0, run.Text);
        Assert.Matches(@"server1\s+web", run.Stdout);
        Assert.DoesNotContain("does not let", run.Text);
    }
}
