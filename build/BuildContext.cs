using Build.Docker;
using Build.Output;
using Build.Processes;
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
    private readonly IReadOnlyDictionary<Type, object> _settings;

    public BuildContext(ICakeContext context, Interruption interruption, Redactor redactor, RunOutcome outcome)
        : base(context)
    {
        outcome.ContextCreated();
        Interruption = interruption;
        Redactor = redactor;
        Root = context.Environment.WorkingDirectory.FullPath;
        var source = new SettingsSource(
            name => context.Arguments.GetArguments(name).ToArray(),
            Environment.GetEnvironmentVariable,
            Path.Join(Root, "deploy.json"),
            Root);
        // Cake.Frosting always passes the target on (Default when none is given).
        var targets = context.Arguments.GetArguments("target") is { Count: > 0 } given ? given : ["Default"];
        try
        {
            SettingsGroups.RequireKnown(targets, typeof(BuildContext).Assembly);
            _settings = SettingsGroups.Resolve(source, SettingsGroups.DeclaredBy(targets, typeof(BuildContext).Assembly));
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

    /// <summary>The deploy targets FindServers found (or took from --hosts).</summary>
    public IReadOnlyList<Deployment.DeployTarget> Servers { get; set; } = [];
}
