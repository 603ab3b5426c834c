using Build.Tests.GitLab.Runner;
using Build.Tests.Support;

namespace Build.Tests.GitLab;

/// <summary>
/// Which jobs a pipeline gets, from .gitlab-ci.yml's workflow and job rules evaluated as GitLab evaluates
/// them (<see cref="CiRules"/>), for each way a pipeline starts.
/// </summary>
public sealed class PipelineRulesTests
{
    private const string Dockerfile = "build/ci.Dockerfile";
    private static readonly IReadOnlySet<string> Nothing = new HashSet<string>();
    private static readonly IReadOnlySet<string> DockerfileOnly = new HashSet<string> { Dockerfile };
    private static readonly IReadOnlySet<string> APost = new HashSet<string> { "site/source/_posts/rollbacks.md" };

    private readonly CiFile _file = CiFile.Load(Repo.File(".gitlab-ci.yml"));

    /// <summary>The jobs the pipeline would hold, each with its <c>when</c>; empty when the workflow creates no pipeline.</summary>
    private Dictionary<string, string> Pipeline(PipelineTrigger trigger)
    {
        if (CiRules.Evaluate(_file.WorkflowRules, trigger) == CiRules.Never) return [];
        return _file.JobNames
            .Select(name => (name, when: CiRules.Evaluate(_file.Job(name).Rules, trigger)))
            .Where(j => j.when != CiRules.Never)
            .ToDictionary(j => j.name, j => j.when);
    }

    private static PipelineTrigger Push(string branch, IReadOnlySet<string>? changed, IReadOnlySet<string>? fromMain = null) =>
        new() { Source = "push", Branch = branch, Changed = changed, DifferFromDefaultBranch = fromMain ?? changed ?? Nothing };

    [Fact]
    public void A_push_to_the_default_branch_builds_deploys_and_offers_the_manual_jobs()
    {
        var jobs = Pipeline(Push("main", APost));

        Assert.Equal(new Dictionary<string, string> { ["build"] = "on_success", ["deploy"] = "on_success", ["redeploy"] = "manual", ["rollback"] = "manual" }, jobs);
    }

    [Fact]
    public void The_image_is_built_on_the_default_branch_only_when_the_push_changed_its_Dockerfile()
    {
        Assert.Contains("ci-image", Pipeline(Push("main", DockerfileOnly)).Keys);
        Assert.DoesNotContain("ci-image", Pipeline(Push("main", APost)).Keys);
    }

    [Fact]
    public void A_schedule_on_the_default_branch_has_no_push_to_compare_and_builds_no_image()
    {
        // A plain `changes` would be true here: GitLab counts every file as changed without a push.
        var jobs = Pipeline(new PipelineTrigger { Source = "schedule", Branch = "main", Changed = null });

        Assert.DoesNotContain("ci-image", jobs.Keys);
        Assert.Contains("deploy", jobs.Keys);
    }

    [Fact]
    public void A_pipeline_run_by_hand_always_builds_the_image_for_the_first_bootstrap_or_a_lost_one()
    {
        Assert.Equal("on_success", Pipeline(new PipelineTrigger { Source = "web", Branch = "main", Changed = null })["ci-image"]);
        Assert.Equal("on_success", Pipeline(new PipelineTrigger { Source = "web", Branch = "feature", Changed = null })["ci-image"]);
    }

    [Fact]
    public void A_new_branch_builds_the_image_only_when_its_Dockerfile_differs_from_the_default_branch()
    {
        // A new branch's first push has nothing to compare with; compare_to the default branch decides.
        var same = Pipeline(Push("feature", changed: null, fromMain: APost));
        var changed = Pipeline(Push("feature", changed: null, fromMain: DockerfileOnly));

        Assert.Equal(["build"], same.Keys);
        Assert.Equal(["build", "ci-image"], changed.Keys.Order());
    }

    [Fact]
    public void A_later_push_to_a_branch_still_compares_with_the_default_branch()
    {
        // The Dockerfile changed two pushes ago: this push did not touch it, but the branch still differs.
        var jobs = Pipeline(Push("feature", changed: APost, fromMain: DockerfileOnly));

        Assert.Contains("ci-image", jobs.Keys);
    }

    [Fact]
    public void A_merge_request_gets_build_and_the_image_when_its_Dockerfile_differs_and_never_a_deploy()
    {
        var trigger = new PipelineTrigger { Source = "merge_request_event", Branch = null, Changed = DockerfileOnly, DifferFromDefaultBranch = DockerfileOnly };

        Assert.Equal(["build", "ci-image"], Pipeline(trigger).Keys.Order());
    }

    [Fact]
    public void A_policy_change_is_checked_on_any_branch_and_applied_from_the_default_branch_only()
    {
        var policy = new HashSet<string> { "tailnet/policy.hujson" };

        var onMain = Pipeline(Push("main", policy));
        var onBranch = Pipeline(Push("feature", policy));
        var mergeRequest = Pipeline(new PipelineTrigger { Source = "merge_request_event", Changed = policy, DifferFromDefaultBranch = policy });
        var unchanged = Pipeline(Push("main", APost));

        Assert.Equal("on_success", onMain["policy"]);
        Assert.Equal("on_success", onMain["apply-policy"]);
        Assert.Contains("policy", onBranch.Keys);
        Assert.DoesNotContain("apply-policy", onBranch.Keys);
        Assert.Contains("policy", mergeRequest.Keys);
        Assert.DoesNotContain("apply-policy", mergeRequest.Keys);
        Assert.DoesNotContain("policy", unchanged.Keys);
        Assert.DoesNotContain("apply-policy", unchanged.Keys);
    }

    [Fact]
    public void A_branch_with_an_open_merge_request_gets_no_second_branch_pipeline()
    {
        Assert.Empty(Pipeline(Push("feature", APost) with { OpenMergeRequest = true }));
    }

    [Theory]
    [InlineData("$A == $B", true)]
    [InlineData("$A != $B", false)]
    [InlineData("$A == \"x\" && $C == \"y\"", false)]
    [InlineData("$A == \"x\" && $C == \"y\" || $B", true)]
    [InlineData("$A == \"x\" && ($C == \"y\" || $B)", true)]
    [InlineData("$UNSET", false)]
    [InlineData("$EMPTY", false)]
    [InlineData("$UNSET == null", true)]
    [InlineData("${A} == 'x'", true)]
    public void If_expressions_follow_GitLabs_precedence_and_truthiness(string expression, bool expected)
    {
        var variables = new Dictionary<string, string> { ["A"] = "x", ["B"] = "x", ["C"] = "z", ["EMPTY"] = "" };

        Assert.Equal(expected, CiRules.Holds(expression, variables));
    }

    [Fact]
    public void An_expression_the_model_does_not_know_is_refused_rather_than_guessed()
    {
        Assert.Throws<NotSupportedException>(() => CiRules.Holds("$A =~ /x/", new Dictionary<string, string>()));
    }
}
