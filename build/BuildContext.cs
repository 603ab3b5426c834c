using Build.Docker;
using Build.Output;
using Build.Processes;
using Build.Sandbox;
using Build.Deployment;
using Build.Settings;
using Build.Tailnet;
using Build.Tailnet.Policy;
using Cake.Core;
using Cake.Core.Diagnostics;
using Cake.Frosting;

namespace Build;

/// <summary>
/// The typed context every task gets: the settings groups the run's tasks declare (resolved once,
/// before anything runs), the cancellation token, the redactor, the process runner, and what earlier
/// tasks hand to later ones.
/// </summary>
public sealed class BuildContext : FrostingContext, IDockerHost
{
    public BuildContext(ICakeContext context, Interruption interruption, Redactor redactor, RunOutcome outcome, StartupConnections startupConnections)
        : base(context)
    {
        outcome.ContextCreated();
        StartupConnections = startupConnections;
        Interruption = interruption;
        Redactor = redactor;
        Root = context.Environment.WorkingDirectory.FullPath;
        _arguments = name => context.Arguments.GetArguments(name).ToArray();
        // Cake.Frosting always passes the target on (Default when none is given).
        var targets = context.Arguments.GetArguments("target") is { Count: > 0 } given ? given : ["Default"];
        try
        {
            SettingsGroups.RequireKnown(targets, typeof(BuildContext).Assembly);
            _groups = SettingsGroups.DeclaredBy(targets, typeof(BuildContext).Assembly);
            var tasks = SettingsGroups.TasksRun(targets, typeof(BuildContext).Assembly);
            DeployFollows = tasks.Contains(typeof(Tasks.DeployTask));
            ConnectsFollow = tasks.Overlaps(ConnectingTasks);
            var arguments = _arguments;
            Sandbox = SandboxSettings.From(NewSource(arguments));
            if (targets.Any(t => string.Equals(t, "Sandbox", StringComparison.OrdinalIgnoreCase)))
            {
                // Said before any server starts: the sandbox target supplies these settings itself.
                SandboxSettings.CheckNoClash(arguments, "--target=Sandbox");
            }
            else if (Sandbox.Enabled)
            {
                var state = LocalSandbox.RunningIn(Root) ?? throw Sandbox.NotRunning();
                arguments = SandboxSettings.Overlay(arguments, state, Sandbox.Origin);
            }
            _settings = SettingsGroups.Resolve(NewSource(arguments), _groups);
        }
        catch (SettingsException e)
        {
            // The host only learns that the context failed; the exit code (2) is the pipeline's.
            outcome.Failed(e);
            throw;
        }
        Processes = new ProcessRunner(redactor);
        CommandLineOptions = context.Arguments.GetArguments()
            .SelectMany(a => a.Value.Select(v => new KeyValuePair<string, string>(a.Key, v)))
            .ToList();
    }

    private readonly Func<string, IReadOnlyList<string>> _arguments;
    private readonly IReadOnlyList<Type> _groups;
    private IReadOnlyDictionary<Type, object> _settings;

    private SettingsSource NewSource(Func<string, IReadOnlyList<string>> arguments) =>
        new(arguments, Environment.GetEnvironmentVariable, Path.Join(Root, "deploy.json"), Root);

    /// <summary><c>--sandbox</c>: the deploy-side targets work on the running local sandbox.</summary>
    public SandboxSettings Sandbox { get; } = new(false, "default");

    /// <summary>
    /// Points every setting the sandbox supplies (hosts, key, known_hosts, user, remote root, no tailnet,
    /// health URL) at <paramref name="state"/>, for the Sandbox target once its servers run; the tasks
    /// after it (JoinTailnet, FindServers, Deploy) then read them as they read any settings.
    /// </summary>
    public void UseSandbox(SandboxState state) =>
        _settings = SettingsGroups.Resolve(NewSource(SandboxSettings.Overlay(_arguments, state, "--target=Sandbox")), _groups);

    /// <summary>The arguments given on the command line (name without dashes, value), for the retry command to repeat.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> CommandLineOptions { get; }

    /// <summary>The groups resolved for this run (those its tasks declare with <see cref="UsesSettingsAttribute"/>).</summary>
    public IReadOnlyCollection<Type> SettingsGroupsResolved => _settings.Keys.ToList();

    /// <summary>A settings group the running task declared; reading an undeclared one is a bug in the task.</summary>
    public T Settings<T>() where T : class, ISettingsGroup<T> =>
        _settings.TryGetValue(typeof(T), out var group)
            ? (T)group
            : throw new InvalidOperationException($"{typeof(T).Name} was not resolved for this run: the task reading it must declare [UsesSettings(typeof({typeof(T).Name}))].");

    public SiteSettings Site => Settings<SiteSettings>();

    /// <summary>The release marker and the health check after each switch (--release-marker, --health-*, --on-unhealthy).</summary>
    public Deployment.Health.HealthSettings Health => Settings<Deployment.Health.HealthSettings>();

    public SshSettings Ssh => Settings<SshSettings>();

    public DeploySettings Deploy => Settings<DeploySettings>();

    public ServerSelection Selection => Settings<ServerSelection>();

    public TailnetSettings Tailnet => Settings<TailnetSettings>();

    public TailscaleApiSettings TailscaleApi => Settings<TailscaleApiSettings>();

    public PolicySettings Policy => Settings<PolicySettings>();

    public CiImageSettings CiImage => Settings<CiImageSettings>();

    public Interruption Interruption { get; }

    /// <summary>The docker on PATH, run through the pipeline's process runner (for the Docker aliases).</summary>
    public DockerClient Docker => DockerClient.FromPath(Processes, Environment.GetEnvironmentVariable("PATH"), line => Log.Information("{0}", line));

    /// <summary>Cancelled by SIGINT/SIGTERM (a cancelled CI job); every long operation observes it.</summary>
    public CancellationToken CancellationToken => Interruption.Token;

    public Redactor Redactor { get; }

    public IProcessRunner Processes { get; }

    /// <summary>The repository root (build.sh runs the pipeline from there).</summary>
    public string Root { get; }

    public string SiteSource => Path.Join(Root, "site");

    /// <summary>The directory to check and deploy: <c>--site-dir</c>, else the site the build generates.</summary>
    public string SiteOutput => Site.SiteDir ?? Path.Join(SiteSource, "public");

    /// <summary>With <c>--site-dir</c> the site is already built: the build tasks skip.</summary>
    public bool BuildsSite => Site.SiteDir is null;

    public string Artifacts => Path.Join(Root, "artifacts");

    /// <summary>GitLab's collapsible log sections (one per task; see build/GitLab/GitLabSections.cs).</summary>
    public GitLab.LogSections Sections { get; } = GitLab.LogSections.ForEnvironment(System.Environment.GetEnvironmentVariable);

    /// <summary>The tailnet session JoinTailnet started; the teardown leaves it.</summary>
    public TailnetSession? TailnetSession { get; set; }

    /// <summary>Userspace networking: connect to servers through this SOCKS5 proxy.</summary>
    public System.Net.DnsEndPoint? Socks5Proxy { get; set; }

    /// <summary>When the run reached each part of a deploy, from the process's start (artifacts/deploy-timing.json).</summary>
    public Deployment.Progress.PhaseClock Clock { get; } = Deployment.Progress.PhaseClock.ForThisProcess(TimeProvider.System);

    /// <summary>The manifest of <see cref="SiteOutput"/>, started by CheckSite and reused by the deploy (hashed once).</summary>
    public Task<Deployment.Release.Manifest>? SiteManifest { get; set; }

    /// <summary>
    /// CheckSite's verdict when a deploy follows in this run: the check goes on while the servers are found and
    /// connected to, and the deploy awaits it before it locks any server (it throws what CheckSite would have).
    /// </summary>
    public Task? SiteVerdict { get; set; }

    /// <summary>This run goes on to the Deploy task (its target or a task that depends on it).</summary>
    public bool DeployFollows { get; }

    /// <summary>The tasks that connect to the servers FindServers found.</summary>
    public static IReadOnlyList<Type> ConnectingTasks { get; } = [typeof(Tasks.DeployTask), typeof(Tasks.RollbackTask), typeof(Tasks.ReleasesTask), typeof(Tasks.UnlockTask)];

    /// <summary>This run goes on to a task that connects to every server FindServers finds (Deploy, Rollback, Releases, Unlock).</summary>
    public bool ConnectsFollow { get; }

    /// <summary>The connections the program opened as it started, from its command line alone (FindServers takes them).</summary>
    public StartupConnections StartupConnections { get; }

    /// <summary>The connections FindServers opened for the task that follows (<see cref="Deployment.Deployer.ConnectEarly"/>).</summary>
    public Deployment.EarlyConnections? EarlyConnections { get; set; }

    /// <summary>The deploy targets FindServers found (or took from --hosts).</summary>
    public IReadOnlyList<Deployment.DeployTarget> Servers { get; set; } = [];
}
