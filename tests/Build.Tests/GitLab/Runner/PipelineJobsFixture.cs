using Build.Tests.Support;
using TestHosts;

namespace Build.Tests.GitLab.Runner;

/// <summary>
/// What the job tests share, made once: a runner with its cache store, the working tree as the first
/// commit, a second commit with one post edited, their build jobs (the first on an empty cache, the
/// second on what the first saved), and two real sshd servers playing server1 and server2.
/// </summary>
public sealed class PipelineJobsFixture : IAsyncLifetime
{
    private readonly TempDir _root = new("gitlab-jobs");
    private readonly SemaphoreSlim _remoteLock = new(1, 1);
    private Lazy<Task<JobRun>> _firstBuild = null!;
    private Lazy<Task<(LocalPipeline Pipeline, JobRun Build)>> _second = null!;
    private int _remotes;

    public LocalRunner Runner { get; private set; } = null!;

    public LocalPipeline First { get; private set; } = null!;

    public IReadOnlyList<SshServer> Servers { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Runner = new LocalRunner(_root.Path, CiFile.Load(Repo.File(".gitlab-ci.yml")));
        var commit = await ProjectCommit.FromWorkingTreeAsync(Repo.Root, Path.Join(_root.Path, "commits", "1"), CancellationToken.None);
        // The first push of the project: nothing to compare with, so every file counts as changed.
        First = Runner.Pipeline(commit);
        // Started now, so the first (cold) build overlaps the servers' start and the other test classes.
        _firstBuild = new Lazy<Task<JobRun>>(() => First.RunAsync("build", new JobOptions { Timeout = TimeSpan.FromMinutes(12), ScopedVariables = Scoped }));
        _ = _firstBuild.Value;
        _second = new Lazy<Task<(LocalPipeline, JobRun)>>(BuildSecondAsync);

        Servers = await Task.WhenAll(new[] { "127.0.0.6", "127.0.0.7" }.Select(a => SshServer.StartAsync(new SshServerOptions { Address = a })));
        // One deploy key for both, as in production.
        await File.AppendAllTextAsync(Path.Join(Servers[1].Directory, "authorized_keys"), Servers[0].UserKey.PublicKey + "\n");
    }

    /// <summary>Pipeline 1's build job, on an empty cache and an empty HOME: it compiles the pipeline program.</summary>
    public Task<JobRun> FirstBuildAsync() => _firstBuild.Value;

    /// <summary>Pipeline 2 (a push that edited one post) and its build job, on the cache pipeline 1 saved: it compiles again, from the cache.</summary>
    public Task<(LocalPipeline Pipeline, JobRun Build)> SecondAsync() => _second.Value;

    private async Task<(LocalPipeline, JobRun)> BuildSecondAsync()
    {
        await FirstBuildAsync();
        var commit = await First.Commit.NextAsync(Path.Join(_root.Path, "commits", "2"), dir =>
        {
            var post = Path.Join(dir, "site", "source", "_posts", "rollbacks.md");
            File.AppendAllText(post, "\nEdited in the second pipeline of the job tests.\n");
        }, "edit a post", CancellationToken.None);
        var edited = new HashSet<string> { "site/source/_posts/rollbacks.md" };
        var pipeline = Runner.Pipeline(commit, new PipelineTrigger { Source = "push", Branch = "main", Changed = edited, DifferFromDefaultBranch = edited });
        return (pipeline, await pipeline.RunAsync("build", new JobOptions { Timeout = TimeSpan.FromMinutes(12), ScopedVariables = Scoped }));
    }

    /// <summary>
    /// Pipeline 3: a push to the default branch after pipeline 2 that changed the tailnet policy (one
    /// more port the CI node must not reach). Its file's history holds the version before the change.
    /// </summary>
    public async Task<LocalPipeline> PolicyChangeAsync()
    {
        var (second, _) = await SecondAsync();
        var commit = await second.Commit.NextAsync(Path.Join(_root.Path, "commits", "3"), dir =>
        {
            var policy = Path.Join(dir, "tailnet", "policy.hujson");
            File.WriteAllText(policy, File.ReadAllText(policy).Replace("\"tag:server2:443\"]", "\"tag:server2:443\", \"tag:server2:8080\"]", StringComparison.Ordinal));
        }, "policy: the CI node must not reach port 8080 either", CancellationToken.None);
        var changed = new HashSet<string> { "tailnet/policy.hujson" };
        return Runner.Pipeline(commit, new PipelineTrigger { Source = "push", Branch = "main", Changed = changed, DifferFromDefaultBranch = changed });
    }

    /// <summary>A fresh remote base for one test, owned by the login user; each server deploys under <c>base/{server}</c>.</summary>
    public async Task<string> RemoteBaseAsync()
    {
        await _remoteLock.WaitAsync();
        try { return await Servers[0].CreateRemoteRootAsync($"jobs-{++_remotes}"); }
        finally { _remoteLock.Release(); }
    }

    /// <summary>
    /// A deploy job's start as a project would configure it, here with the tailnet off and the two local
    /// servers named in DEPLOY_HOSTS; the key and known_hosts as File variables; a Tailscale client id
    /// scoped to the production environment, as the README says (no secret: the tailnet is off).
    /// </summary>
    public JobOptions DeployOptions(string remoteBase, IReadOnlyDictionary<string, string>? manual = null) => new()
    {
        ProjectVariables = new Dictionary<string, string>
        {
            ["DEPLOY_TAILNET"] = "off",
            ["DEPLOY_HOSTS"] = string.Join(',', Servers.Select((s, i) => $"server{i + 1}={s.Address}:{s.Port}")),
            ["DEPLOY_ROOT"] = Path.Join(remoteBase, "{server}"),
            ["DEPLOY_SSH_USER"] = Servers[0].UserName,
            ["DEPLOY_RETRY_DELAY"] = "100ms",
        },
        FileVariables = new Dictionary<string, string>
        {
            ["SSH_PRIVATE_KEY"] = Servers[0].UserKey.PrivateKeyText,
            ["SSH_KNOWN_HOSTS"] = string.Concat(Servers.Select((s, i) => s.KnownHostsLines($"server{i + 1}"))),
        },
        ScopedVariables = Scoped,
        ManualVariables = manual ?? new Dictionary<string, string>(),
    };

    public const string ScopedClientId = "k123ScopedToProduction";

    /// <summary>The project's environment-scoped variables, the same for every job it runs.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Scoped { get; } =
        new Dictionary<string, IReadOnlyDictionary<string, string>>
        {
            ["production"] = new Dictionary<string, string> { ["TS_OAUTH_CLIENT_ID"] = ScopedClientId },
        };

    public async Task DisposeAsync()
    {
        // Never leave a job running behind the tests.
        if (_firstBuild.IsValueCreated) await Task.WhenAny(_firstBuild.Value);
        if (_second.IsValueCreated) await Task.WhenAny(_second.Value);
        foreach (var server in Servers) await server.DisposeAsync();
        _root.Dispose();
    }
}
