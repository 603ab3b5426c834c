using Build.Docker;
using Build.Settings;
using Build.Tailnet;
using Build.Tailnet.Policy;
using Build.Tests.Support;
using Cake.Frosting;

namespace Build.Tests.Settings;

/// <summary>Which settings groups a run resolves: those its tasks declare, and nothing else.</summary>
public sealed class SettingsGroupsTests
{
    private static IReadOnlyList<Type> For(params string[] targets) => SettingsGroups.DeclaredBy(targets, typeof(BuildContext).Assembly);

    [Fact]
    public void ForgetNode_resolves_only_the_Tailscale_API_group()
    {
        Assert.Equal([typeof(TailscaleApiSettings)], For("ForgetNode"));
    }

    [Fact]
    public void Deploy_resolves_the_groups_of_every_task_it_depends_on()
    {
        Assert.Equal(
            [typeof(DeploySettings), typeof(Build.Deployment.Health.HealthSettings), typeof(PolicySettings), typeof(ServerSelection), typeof(SiteSettings), typeof(SshSettings), typeof(TailnetSettings)],
            For("deploy"));
    }

    [Fact]
    public void Build_and_Clean_need_only_what_they_use()
    {
        Assert.Equal([typeof(SiteSettings)], For("Build"));
        Assert.Equal([typeof(SiteSettings)], For("Default"));
        Assert.Empty(For("Clean"));
        Assert.Empty(For("Bench"));
        Assert.Equal([typeof(CiImageSettings)], For("CiImage"));
        Assert.Empty(For("NoSuchTarget"));
    }

    [Fact]
    public void Every_declared_group_resolves_through_its_own_From()
    {
        var tasks = typeof(BuildContext).Assembly.GetExportedTypes().Where(t => typeof(IFrostingTask).IsAssignableFrom(t) && !t.IsAbstract).ToList();
        var groups = tasks.SelectMany(t => t.GetCustomAttributes(typeof(UsesSettingsAttribute), false).Cast<UsesSettingsAttribute>()).SelectMany(a => a.Groups).Distinct().ToList();
        Assert.Equal(9, groups.Count);
        var source = new SettingsSource(_ => [], name => name == "CI_REGISTRY_IMAGE" ? "registry.example/blog" : null, null);
        var resolved = SettingsGroups.Resolve(source, groups);
        Assert.All(groups, g => Assert.IsType(g, resolved[g]));
    }

    [Fact]
    public void A_type_that_is_not_a_group_is_refused()
    {
        var e = Assert.Throws<InvalidOperationException>(() => SettingsGroups.Resolve(new SettingsSource(_ => [], _ => null, null), [typeof(string)]));
        Assert.Contains("ISettingsGroup", e.Message);
    }

    [Theory]
    [InlineData("--tailnet=off", "--tailnet = off")]
    [InlineData("--ssh-key=/nonexistent/deploy_key", "/nonexistent/deploy_key")]
    [InlineData("--known-hosts=/nonexistent/known_hosts", "/nonexistent/known_hosts")]
    public async Task A_late_check_now_exits_2_before_anything_runs(string argument, string named)
    {
        var run = await PipelineProcess.RunAsync(["--target=Deploy", argument], Repo.Root, new Dictionary<string, string>(), TimeSpan.FromSeconds(60));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(named, run.Text);
        // Nothing ran: no task header, no site build, no setup.
        Assert.DoesNotContain("InstallSiteDependencies", run.Stdout);
        Assert.DoesNotContain("Hexo", run.Text);
    }

    [Fact]
    public async Task ForgetNode_ignores_other_groups_bad_values()
    {
        using var dir = new TempDir("forgetnode");
        var run = await PipelineProcess.RunAsync(["--target=ForgetNode", "--ssh-port=none", "--tailnet=off"], dir.Path,
            new Dictionary<string, string> { ["DEPLOY_PARALLEL"] = "0" }, TimeSpan.FromSeconds(60));

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("ForgetNode", run.Text);
    }
}
