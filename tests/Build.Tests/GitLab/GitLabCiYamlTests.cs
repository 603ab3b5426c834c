using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Build.Deployment;
using Build.Docker;
using Build.Settings;
using Build.Tailnet.Api;
using Build.Tests.GitLab.Runner;
using Cake.Frosting;
using YamlDotNet.RepresentationModel;

using Build.Tests.Support;

namespace Build.Tests.GitLab;

/// <summary>
/// .gitlab-ci.yml, parsed with YamlDotNet and checked against GitLab's documented keywords
/// (the CI schema's job, rule, artifacts, cache and environment properties) and against this
/// repository: every target it runs is a task of the Build program, the image tag is the
/// Dockerfile's hash, the cache keys are lock files that exist.
/// </summary>
public sealed partial class GitLabCiYamlTests
{
    private static readonly string[] GlobalKeywords = ["default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script", "after_script", "spec"];

    private static readonly HashSet<string> JobKeywords =
    [
        "after_script", "allow_failure", "artifacts", "before_script", "cache", "coverage", "dependencies", "environment",
        "except", "extends", "hooks", "id_tokens", "identity", "image", "inherit", "inputs", "interruptible", "manual_confirmation",
        "needs", "only", "pages", "parallel", "publish", "release", "resource_group", "retry", "rules", "run", "script", "secrets",
        "services", "stage", "start_in", "tags", "timeout", "trigger", "variables", "when",
    ];

    private static readonly HashSet<string> RuleKeywords = ["if", "changes", "exists", "variables", "when", "start_in", "allow_failure", "needs", "interruptible"];
    private static readonly HashSet<string> WhenValues = ["on_success", "on_failure", "always", "never", "manual", "delayed"];
    private static readonly HashSet<string> ArtifactsKeywords = ["paths", "exclude", "expose_as", "name", "untracked", "when", "access", "expire_in", "reports"];
    private static readonly HashSet<string> CacheKeywords = ["key", "paths", "policy", "unprotect", "untracked", "when", "fallback_keys"];
    private static readonly HashSet<string> EnvironmentKeywords = ["name", "url", "on_stop", "action", "auto_stop_in", "kubernetes", "deployment_tier"];

    private const string DefaultBranchOnly = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH";
    private const string ForgetNodeLine = "./build.sh --target=ForgetNode || true";

    private readonly YamlMappingNode _root;

    public GitLabCiYamlTests()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Repo.File(".gitlab-ci.yml"))));
        _root = (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private IEnumerable<(string Name, YamlMappingNode Job)> Jobs =>
        _root.Children
            .Select(kv => (Name: ((YamlScalarNode)kv.Key).Value!, Node: kv.Value))
            .Where(kv => !kv.Name.StartsWith('.') && !GlobalKeywords.Contains(kv.Name))
            .Select(kv => (kv.Name, (YamlMappingNode)kv.Node));

    private YamlMappingNode Job(string name) => Jobs.Single(j => j.Name == name).Job;

    [Fact]
    public void Every_target_the_jobs_run_is_a_task_of_the_build_program()
    {
        var tasks = typeof(BuildContext).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsClass: true } && typeof(IFrostingTask).IsAssignableFrom(t))
            .Select(t => t.GetCustomAttribute<TaskNameAttribute>()?.Name ?? t.Name)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);   // Cake matches targets case-insensitively

        var targets = Jobs.SelectMany(j => ScriptLines(j.Job).SelectMany(line => TargetPattern().Matches(line).Select(m => (j.Name, Target: m.Groups[1].Value)))).ToList();

        Assert.NotEmpty(targets);
        Assert.Contains(targets, t => t.Target == "Deploy");
        var unknown = targets.Where(t => !tasks.Contains(t.Target)).Select(t => $"{t.Name}: --target={t.Target}").ToList();
        Assert.True(unknown.Count == 0, "Targets that are no task of the Build program: " + string.Join(", ", unknown) + ". Tasks: " + string.Join(", ", tasks.Order()));
    }

    [Fact]
    public void Every_job_uses_only_documented_keywords()
    {
        var stages = Sequence(_root, "stages").Select(Scalar).ToHashSet();
        var jobNames = Jobs.Select(j => j.Name).ToHashSet();
        foreach (var (name, job) in Jobs)
        {
            foreach (var key in Keys(job)) Assert.True(JobKeywords.Contains(key), $"{name}: '{key}' is not a GitLab job keyword");
            Assert.True(job.Children.ContainsKey("script") || job.Children.ContainsKey("trigger"), $"{name} has no script");
            Assert.False(job.Children.ContainsKey("rules") && (job.Children.ContainsKey("only") || job.Children.ContainsKey("except")), $"{name} mixes rules with only/except");
            if (Get(job, "stage") is YamlScalarNode stage) Assert.Contains(stage.Value!, stages);

            foreach (var rule in Sequence(job, "rules").Cast<YamlMappingNode>())
            {
                foreach (var key in Keys(rule)) Assert.True(RuleKeywords.Contains(key), $"{name}: rules: '{key}' is not a rule keyword");
                if (Get(rule, "when") is YamlScalarNode when) Assert.Contains(when.Value!, WhenValues);
            }
            if (Get(job, "artifacts") is YamlMappingNode artifacts)
            {
                foreach (var key in Keys(artifacts)) Assert.True(ArtifactsKeywords.Contains(key), $"{name}: artifacts: '{key}' is not an artifacts keyword");
                if (Get(artifacts, "when") is YamlScalarNode w) Assert.Contains(w.Value, new[] { "on_success", "on_failure", "always" });
            }
            if (Get(job, "environment") is YamlMappingNode environment)
            {
                foreach (var key in Keys(environment)) Assert.True(EnvironmentKeywords.Contains(key), $"{name}: environment: '{key}' is not an environment keyword");
                Assert.NotNull(Get(environment, "name"));
            }
            if (Get(job, "variables") is YamlMappingNode variables)
            {
                foreach (var (_, value) in variables.Children)
                {
                    // Job variables: a scalar, or {value, expand} (description is for pipeline-level variables only).
                    if (value is YamlMappingNode v) Assert.All(Keys(v), k => Assert.Contains(k, new[] { "value", "expand" }));
                }
            }
            foreach (var need in Sequence(job, "needs"))
            {
                var needed = need is YamlMappingNode m ? Scalar(m.Children[new YamlScalarNode("job")]) : Scalar(need);
                Assert.True(jobNames.Contains(needed), $"{name} needs unknown job {needed}");
            }
            foreach (var cache in Caches(job))
            {
                foreach (var key in Keys(cache)) Assert.True(CacheKeywords.Contains(key), $"{name}: cache: '{key}' is not a cache keyword");
            }
        }
    }

    [Fact]
    public void Workflow_rules_keep_a_branch_with_an_open_merge_request_to_one_pipeline()
    {
        var rules = Sequence(Get(_root, "workflow")!, "rules").Cast<YamlMappingNode>().ToList();

        Assert.All(rules, r => Assert.All(Keys(r), k => Assert.Contains(k, new[] { "if", "changes", "exists", "variables", "when", "auto_cancel" })));
        Assert.All(rules, r => { if (Get(r, "when") is YamlScalarNode w) Assert.Contains(w.Value, new[] { "always", "never" }); });
        var mr = rules.FindIndex(r => Text(r, "if") == "$CI_PIPELINE_SOURCE == \"merge_request_event\"");
        var never = rules.FindIndex(r => Text(r, "if") == "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS" && Text(r, "when") == "never");
        var branch = rules.FindIndex(r => Text(r, "if") == "$CI_COMMIT_BRANCH" && Get(r, "when") is null);
        Assert.True(mr >= 0 && never > mr && branch > never, "workflow:rules must run MR pipelines, then skip branch pipelines with an open MR, then run branch pipelines");
    }

    [Fact]
    public void The_build_job_runs_on_every_branch_and_keeps_the_site()
    {
        var build = Job("build");

        Assert.Equal(["./build.sh --target=Build --target=CheckPolicy"], Sequence(build, "script").Select(Scalar));
        Assert.Null(Get(build, "rules"));                          // every pipeline the workflow allows
        Assert.Equal("true", Text(build, "interruptible"));
        Assert.Contains("site/public/", Sequence(Get(build, "artifacts")!, "paths").Select(Scalar));
        Assert.Contains("artifacts/site-check.json", Sequence(Get(build, "artifacts")!, "paths").Select(Scalar));
    }

    [Fact]
    public void The_deploy_job_deploys_the_build_jobs_site_on_the_default_branch_only()
    {
        var deploy = Job("deploy");

        Assert.Equal(["./build.sh --target=Deploy --site-dir=site/public"], Sequence(deploy, "script").Select(Scalar));
        var rules = Sequence(deploy, "rules").Cast<YamlMappingNode>().ToList();
        Assert.Equal(DefaultBranchOnly, Text(Assert.Single(rules), "if"));
        Assert.Null(Get(rules[0], "when"));
        var need = Assert.Single(Sequence(deploy, "needs"));
        Assert.Equal("build", need is YamlMappingNode m ? Text(m, "job") : Scalar(need));
        var environment = (YamlMappingNode)Get(deploy, "environment")!;
        Assert.Equal("production", Text(environment, "name"));
        Assert.False(string.IsNullOrEmpty(Text(environment, "url")));
    }

    [Theory]
    [InlineData("deploy")]
    [InlineData("redeploy")]
    [InlineData("rollback")]
    public void Deploy_jobs_are_serialised_uninterruptible_and_report_per_server(string name)
    {
        var job = Job(name);

        Assert.Equal("production", Text(job, "resource_group"));
        Assert.Equal("false", Text(job, "interruptible"));
        Assert.Equal(DefaultBranchOnly, Text(Sequence(job, "rules").Cast<YamlMappingNode>().First(), "if"));
        Assert.Equal("production", Text((YamlMappingNode)Get(job, "environment")!, "name"));
        var artifacts = (YamlMappingNode)Get(job, "artifacts")!;
        Assert.Equal("always", Text(artifacts, "when"));
        Assert.Contains("artifacts/", Sequence(artifacts, "paths").Select(Scalar));
        Assert.Equal("artifacts/deploy-report.xml", Text((YamlMappingNode)Get(artifacts, "reports")!, "junit"));
        Assert.Equal([ForgetNodeLine], Sequence(job, "after_script").Select(Scalar));
        Assert.Contains(ScriptLines(job), l => l.Contains("--target=Deploy") || l.Contains("--target=Rollback"));
    }

    [Theory]
    [InlineData("redeploy", "Deploy")]
    [InlineData("rollback", "Rollback")]
    public void Manual_jobs_need_DEPLOY_SERVERS_and_may_fail(string name, string target)
    {
        var job = Job(name);

        var rule = Sequence(job, "rules").Cast<YamlMappingNode>().Single();
        Assert.Equal(DefaultBranchOnly, Text(rule, "if"));
        Assert.Equal("manual", Text(rule, "when"));
        Assert.Equal("true", Text(job, "allow_failure"));
        Assert.Equal("", Text((YamlMappingNode)Get(job, "variables")!, "DEPLOY_SERVERS"));
        var script = Sequence(job, "script").Select(Scalar).ToList();
        Assert.StartsWith("[ -n \"$DEPLOY_SERVERS\" ]", script[0]);
        Assert.StartsWith($"./build.sh --target={target}", script[^1]);
    }

    [Theory]
    [InlineData("redeploy")]
    [InlineData("rollback")]
    public async Task The_DEPLOY_SERVERS_guard_stops_an_empty_value_with_a_clear_error(string name)
    {
        var guard = Sequence(Job(name), "script").Select(Scalar).First();

        var empty = await RunShAsync(guard, "");
        var set = await RunShAsync(guard, "server1");

        Assert.Equal(2, empty.ExitCode);
        Assert.Contains("DEPLOY_SERVERS is empty", empty.Error);
        Assert.Contains("server1,server2", empty.Error);
        Assert.Equal(0, set.ExitCode);
    }

    [Theory]
    [InlineData("deploy")]
    [InlineData("redeploy")]
    [InlineData("rollback")]
    public void The_script_timeout_ends_before_the_jobs_so_after_script_runs_and_it_holds_the_pipelines_own_bounds(string name)
    {
        var job = Job(name);
        var variables = (YamlMappingNode)Get(job, "variables")!;
        var jobTimeout = GitLabDuration.Parse(Text(job, "timeout")!);
        var script = GitLabDuration.Parse(Text(variables, "RUNNER_SCRIPT_TIMEOUT")!);
        var after = GitLabDuration.Parse(Text(variables, "RUNNER_AFTER_SCRIPT_TIMEOUT")!);

        // GitLab runs after_script on a script timeout, never on the job's own: both must fit in the job's.
        Assert.True(script + after <= jobTimeout, $"{name}: script {script} + after_script {after} must fit in the job's timeout {jobTimeout}");
        // after_script: starting the program plus ForgetNode's own bound on all its API calls.
        Assert.True(after >= new ForgetNodeOptions().TotalTimeout + TimeSpan.FromMinutes(1), $"{name}: after_script's {after} leaves ForgetNode too little time");

        // The worst case of the script with the defaults: every join and deploy attempt running into its bound.
        var source = new SettingsSource(_ => [], _ => null, Repo.File("deploy.json"));
        var tailnet = TailnetSettings.From(source);
        var deploySettings = DeploySettings.From(source);
        var fanOut = FanOutOptions.From(deploySettings);
        var join = tailnet.ReadyTimeout + tailnet.Retry.Attempts * tailnet.Timeout + RetryDelays(tailnet.Retry.Attempts, tailnet.Retry.Delay);
        var deploy = deploySettings.LockWait + fanOut.Attempts * fanOut.AttemptTimeout + RetryDelays(fanOut.Attempts, fanOut.RetryDelay);
        var rest = TimeSpan.FromMinutes(2);   // starting the program, checking the site, the teardown
        Assert.True(join + deploy + rest <= script,
            $"{name}: join {join} + deploy {deploy} + {rest} for the rest exceed RUNNER_SCRIPT_TIMEOUT {script}: the script would be cut while the pipeline still waits on its own bounds");
    }

    /// <summary>The longest waits between attempts: delay·2^(n−1) at most 1.2 times over, each capped at a minute.</summary>
    private static TimeSpan RetryDelays(int attempts, TimeSpan delay) =>
        Enumerable.Range(1, Math.Max(0, attempts - 1))
            .Select(n => TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(1).Ticks, (long)(delay.Ticks * Math.Pow(2, n - 1) * 1.2))))
            .Aggregate(TimeSpan.Zero, (a, b) => a + b);

    [Fact]
    public void Only_the_production_jobs_have_the_environment_that_scopes_the_deploy_secrets()
    {
        // The README scopes TS_OAUTH_SECRET, SSH_PRIVATE_KEY, ... to the environment "production": only
        // jobs with that environment get them, never build, which runs npm ci and Hexo's plugins.
        var production = Jobs.Where(j => Get(j.Job, "environment") is YamlMappingNode e && Text(e, "name") == "production").Select(j => j.Name).Order();

        Assert.Equal(["deploy", "redeploy", "rollback"], production);
        Assert.Null(Get(Job("build"), "environment"));
        Assert.Null(Get(Job("ci-image"), "environment"));
        var readme = File.ReadAllText(Repo.File("README.md"));
        foreach (var secret in new[] { "TS_OAUTH_SECRET", "TS_OAUTH_CLIENT_ID", "SSH_PRIVATE_KEY", "SSH_KNOWN_HOSTS", "SSH_KEY_PASSPHRASE" })
            Assert.Matches(@"(?m)^\| `" + secret + @"` \|[^|]*environment scope `production`", readme);
    }

    [Fact]
    public void CiImageTagMatchesDockerfile()
    {
        var expected = "$CI_REGISTRY_IMAGE/ci:" + CiImagePublisher.TagOfFile(Repo.File("build", "ci.Dockerfile"));

        var image = Text((YamlMappingNode)Get(_root, "default")!, "image");

        Assert.True(expected == image, $"default:image is {image}, but build/ci.Dockerfile hashes to {expected}: put that in .gitlab-ci.yml (and let the ci-image job push it).");
        // Jobs use the CI image, except the one that builds it.
        Assert.All(Jobs.Where(j => j.Name != "ci-image"), j => Assert.Null(Get(j.Job, "image")));
    }

    [Fact]
    public void The_Dockerfile_pins_its_base_by_tag_and_installs_the_tools()
    {
        var lines = File.ReadAllLines(Repo.File("build", "ci.Dockerfile"));

        Assert.Equal("FROM alpine:3.23", Assert.Single(lines, l => l.StartsWith("FROM ", StringComparison.Ordinal)));
        var text = string.Join('\n', lines);
        foreach (var package in new[] { "dotnet10-sdk", "nodejs", "npm", "tailscale", "openssh-client", "bash", "git" })
            Assert.Matches(@"(?m)^\s+" + Regex.Escape(package) + @"\b", text);
    }

    [Fact]
    public void The_ci_image_job_runs_CiImage_in_docker_in_docker_when_the_Dockerfile_changes()
    {
        var job = Job("ci-image");

        Assert.Equal(["./build.sh --target=CiImage"], Sequence(job, "script").Select(Scalar));
        Assert.Equal("image", Text(job, "stage"));
        Assert.Equal("image", Scalar(Sequence(_root, "stages").First()));
        var service = Assert.Single(Sequence(job, "services"));
        Assert.EndsWith("-dind", service is YamlMappingNode s ? Text(s, "name") : Scalar(service));
        var changes = Sequence(job, "rules").Cast<YamlMappingNode>().SelectMany(r => Sequence(r, "changes").Select(Scalar));
        Assert.Contains("build/ci.Dockerfile", changes);
        Assert.Contains(Sequence(job, "before_script").Select(Scalar), l => l.Contains("docker-cli") && l.Contains("dotnet10-sdk"));
    }

    [Fact]
    public void Caches_keep_NuGet_packages_in_the_project_and_are_keyed_on_lock_files_that_exist()
    {
        Assert.Equal("$CI_PROJECT_DIR/.nuget/packages", Text((YamlMappingNode)Get(_root, "variables")!, "NUGET_PACKAGES"));

        var caches = Jobs.SelectMany(j => Caches(j.Job).Select(c => (j.Name, Cache: c))).ToList();
        var paths = caches.SelectMany(c => Sequence(c.Cache, "paths").Select(Scalar)).ToHashSet();
        Assert.Contains(".nuget/packages/", paths);
        Assert.Contains("site/node_modules/", paths);
        foreach (var (name, cache) in caches.Where(c => Get(c.Cache, "key") is YamlMappingNode))
        {
            var files = Sequence((YamlMappingNode)Get(cache, "key")!, "files").Select(Scalar).ToList();
            Assert.InRange(files.Count, 1, 2);                 // GitLab's limit for cache:key:files
            Assert.All(files, f => Assert.EndsWith("lock.json", f));
            Assert.All(files, f => Assert.True(File.Exists(Repo.File(f.Split('/'))), $"{name}: cache key file {f} does not exist"));
        }
        Assert.Contains(Caches(Job("build")), c => Text(c, "policy") == "pull-push" && Sequence(c, "paths").Select(Scalar).Contains(".nuget/packages/"));
    }

    [Fact]
    public void Every_job_that_runs_the_pipeline_restores_its_compiled_program_and_only_build_saves_it()
    {
        foreach (var (name, job) in Jobs)
        {
            var program = Caches(job).Where(c => Sequence(c, "paths").Select(Scalar).Contains(".build/bin/")).ToList();
            var cache = Assert.Single(program);
            Assert.Contains(".build/stamp", Sequence(cache, "paths").Select(Scalar));
            Assert.Equal("pipeline-$CI_COMMIT_REF_SLUG", Text(cache, "key"));
            Assert.Equal(["pipeline-$CI_DEFAULT_BRANCH"], Sequence(cache, "fallback_keys").Select(Scalar));
            Assert.Equal(name == "build" ? "pull-push" : "pull", Text(cache, "policy"));
        }
    }

    private static async Task<(int ExitCode, string Error)> RunShAsync(string script, string servers)
    {
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardError = true, RedirectStandardOutput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.Environment["DEPLOY_SERVERS"] = servers;
        using var process = Process.Start(info)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, error);
    }

    private static IEnumerable<string> ScriptLines(YamlMappingNode job) =>
        new[] { "before_script", "script", "after_script" }.SelectMany(k => Sequence(job, k)).SelectMany(Flatten);

    private static IEnumerable<string> Flatten(YamlNode node) => node switch
    {
        YamlScalarNode s => [s.Value ?? ""],
        YamlSequenceNode seq => seq.Children.SelectMany(Flatten),
        _ => [],
    };

    private static IEnumerable<YamlMappingNode> Caches(YamlMappingNode job) => Get(job, "cache") switch
    {
        YamlMappingNode one => [one],
        YamlSequenceNode many => many.Children.Cast<YamlMappingNode>(),
        _ => [],
    };

    private static YamlNode? Get(YamlNode node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Text(YamlNode node, string key) => Get(node, key) is YamlScalarNode s ? s.Value : null;

    private static IEnumerable<YamlNode> Sequence(YamlNode node, string key) => Get(node, key) switch
    {
        YamlSequenceNode seq => seq.Children,
        YamlScalarNode s => [s],
        _ => [],
    };

    private static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";

    private static IEnumerable<string> Keys(YamlMappingNode map) => map.Children.Keys.Select(k => ((YamlScalarNode)k).Value!);

    [GeneratedRegex(@"--target[= ]([A-Za-z0-9_.-]+)")]
    private static partial Regex TargetPattern();
}
