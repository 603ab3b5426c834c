using Build.Output;
using Build.Processes;
using Build.Sandbox;
using Build.Settings;
using Build.Tailnet.Policy;
using Cake.Core;
using Cake.Frosting;

namespace Build;

/// <summary>
/// The typed context every task gets: settings resolved once, the cancellation token, the
/// redactor, the process runner, and what earlier tasks hand to later ones.
/// </summary>
public sealed class BuildContext : FrostingContext
{
    public BuildContext(ICakeContext context, Interruption interruption, Redactor redactor)
        : base(context)
    {
        Interruption = interruption;
        Redactor = redactor;
        Root = context.Environment.WorkingDirectory.FullPath;
        try
        {
            _arguments = name => context.Arguments.GetArguments(name).ToArray();
            var arguments = _arguments;
            Sandbox = SandboxSettings.From(NewSource(arguments));
            if (RunsTarget(context, "Sandbox"))
            {
                // Said before any server starts: the sandbox target supplies these settings itself.
                SandboxSettings.CheckNoClash(arguments, "--target=Sandbox");
            }
            else if (Sandbox.Enabled)
            {
                var state = LocalSandbox.RunningIn(Root) ?? throw Sandbox.NotRunning();
                arguments = SandboxSettings.Overlay(arguments, state, Sandbox.Origin);
            }
            Resolve(NewSource(arguments));
        }
        catch (SettingsException e) when (OnlyForgetsNode(context))
        {
            // The after_script cleanup must run and exit 0 whatever the job's settings: it reports them instead.
            _settingsError = e;
        }
        Processes = new ProcessRunner(redactor);
        CommandLineOptions = context.Arguments.GetArguments()
            .SelectMany(a => a.Value.Select(v => new KeyValuePair<string, string>(a.Key, v)))
            .ToList();
    }

    private SettingsSource? _source;
    private readonly Func<string, IReadOnlyList<string>> _arguments = _ => [];

    private SettingsSource NewSource(Func<string, IReadOnlyList<string>> arguments) =>
        new(arguments, Environment.GetEnvironmentVariable, Path.Join(Root, "deploy.json"));

    /// <summary><c>--sandbox</c>: the deploy-side targets work on the running local sandbox.</summary>
    public SandboxSettings Sandbox { get; } = new(false, "default");

    /// <summary>
    /// Points every setting the sandbox supplies (hosts, key, known_hosts, user, remote root, no tailnet)
    /// at <paramref name="state"/>, for the Sandbox target once its servers run; the tasks after it
    /// (JoinTailnet, FindServers, Deploy) then read them as they read any settings.
    /// </summary>
    public void UseSandbox(SandboxState state) => Resolve(NewSource(SandboxSettings.Overlay(_arguments, state, "--target=Sandbox")));

    /// <summary>Every settings record from one source: the constructor's, or the sandbox's once it runs.</summary>
    private void Resolve(SettingsSource source)
    {
        _settings = BuildSettings.Resolve(source);
        _health = Deployment.Health.HealthSettings.From(source);
        _source = source;
        _policy = null;
    }

    private static bool RunsTarget(ICakeContext context, string target) =>
        context.Arguments.GetArguments("target").Any(t => string.Equals(t, target, StringComparison.OrdinalIgnoreCase));

    /// <summary>The arguments given on the command line (name without dashes, value), for the retry command to repeat.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> CommandLineOptions { get; }

    private BuildSettings? _settings;
    private Deployment.Health.HealthSettings? _health;
    private PolicySettings? _policy;
    private readonly SettingsException? _settingsError;

    public BuildSettings Settings => _settings ?? throw new SettingsException(_settingsError!.Message, _settingsError);

    /// <summary>The release marker and the health check after each switch (--release-marker, --health-*, --on-unhealthy).</summary>
    public Deployment.Health.HealthSettings Health => _health ?? throw new SettingsException(_settingsError!.Message, _settingsError);

    /// <summary>The policy targets' settings, resolved when first used (only those targets need them).</summary>
    public PolicySettings Policy => _policy ??= PolicySettings.Resolve(
        _source ?? throw new SettingsException(_settingsError!.Message, _settingsError), Root);

    private static bool OnlyForgetsNode(ICakeContext context) =>
        context.Arguments.GetArguments("target") is { Count: > 0 } targets &&
        targets.All(t => string.Equals(t, "ForgetNode", StringComparison.OrdinalIgnoreCase));

    public Interruption Interruption { get; }

    /// <summary>Cancelled by SIGINT/SIGTERM (a cancelled CI job); every long operation observes it.</summary>
    public CancellationToken CancellationToken => Interruption.Token;

    public Redactor Redactor { get; }

    public IProcessRunner Processes { get; }

    /// <summary>The repository root (build.sh runs the pipeline from there).</summary>
    public string Root { get; }

    public string SiteSource => Path.Join(Root, "site");

    /// <summary>The directory to check and deploy: <c>--site-dir</c>, else the site the build generates.</summary>
    public string SiteOutput => Settings.SiteDir is { } dir ? Path.GetFullPath(dir, Root) : Path.Join(SiteSource, "public");

    /// <summary>With <c>--site-dir</c> the site is already built: the build tasks skip.</summary>
    public bool BuildsSite => Settings.SiteDir is null;

    public string Artifacts => Path.Join(Root, "artifacts");

    /// <summary>GitLab's collapsible log sections (one per task; see build/GitLab/GitLabSections.cs).</summary>
    public GitLab.LogSections Sections { get; } = GitLab.LogSections.ForEnvironment(System.Environment.GetEnvironmentVariable);

    /// <summary>The tailnet session JoinTailnet started; the teardown leaves it.</summary>
    public Tailnet.TailnetSession? Tailnet { get; set; }

    /// <summary>Userspace networking: connect to servers through this SOCKS5 proxy.</summary>
    public System.Net.DnsEndPoint? Socks5Proxy { get; set; }

    /// <summary>When the run reached each part of a deploy, from the process's start (artifacts/deploy-timing.json).</summary>
    public Deployment.Progress.PhaseClock Clock { get; } = Deployment.Progress.PhaseClock.ForThisProcess(TimeProvider.System);

    /// <summary>The manifest of <see cref="SiteOutput"/>, started by CheckSite and reused by the deploy (hashed once).</summary>
    public Task<Deployment.Release.Manifest>? SiteManifest { get; set; }

    /// <summary>The deploy targets FindServers found (or took from --hosts).</summary>
    public IReadOnlyList<Deployment.DeployTarget> Servers { get; set; } = [];
}
