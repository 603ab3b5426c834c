using Build.Deployment.Health;
using Build.Deployment.Progress;
using Build.Deployment.Release;
using Build.Deployment.Reports;
using Build.Deployment.Ssh;
using Cake.Common.Diagnostics;

namespace Build.Deployment;

/// <summary>
/// The deploy-side targets over the servers FindServers chose: each builds the fan-out from the
/// settings, runs it with progress, and always writes the reports and the summary (in a finally),
/// failing with exit code 3 and the retry command when some servers failed.
/// </summary>
public sealed class Deployer(BuildContext context)
{
    private readonly TimeProvider _time = TimeProvider.System;

    public async Task DeployAsync()
    {
        var settings = context.Deploy;
        var token = context.CancellationToken;
        if (!Directory.Exists(context.SiteOutput))
            throw new Settings.SettingsException($"The site to deploy, {context.SiteOutput}, does not exist. Build it first (--target=Build) or point --site-dir at a built site.");
        if (!Directory.EnumerateFiles(context.SiteOutput, "*", SearchOption.AllDirectories).Any())
            throw new Settings.SettingsException($"The site to deploy, {context.SiteOutput}, holds no files; deploying it would take every page off the servers. Build it first or point --site-dir at a built site.");
        var marker = context.Health.Marker;
        if (Path.Exists(Path.Join(context.SiteOutput, marker.Path)))
            throw new Settings.SettingsException($"The site has its own {marker.Path}, where each release's marker goes (--release-marker). Give --release-marker (DEPLOY_RELEASE_MARKER or deploy.json \"release-marker\") a path the site does not use.");

        context.Clock.Mark(RunMark.DeployStart);
        // What the site holds is checked before any server is touched (a FIFO, a symlink out of the site: exit 2);
        // then the site is hashed while the connections are being opened.
        var commit = ReleaseCandidate.ResolveCommitAsync(context.Processes, context.Root, Environment.GetEnvironmentVariable, token);
        Task<ReleaseCandidate> candidate;
        if (context.SiteManifest is { } checkedManifest)
        {
            // CheckSite scans and hashes the site it checks: the same files, hashed once. Its verdict may still be
            // coming: every server awaits the candidate once connected, before it locks.
            var verdict = context.SiteVerdict ?? Task.CompletedTask;
            candidate = Task.Run(async () =>
            {
                await verdict;
                var manifest = await checkedManifest;
                var now = _time.GetUtcNow();
                return new ReleaseCandidate(context.SiteOutput, manifest, new ReleaseInfo(ReleaseCandidate.NewReleaseId(now, manifest.Hash), await commit, now));
            }, token);
        }
        else
        {
            var scan = Manifest.Scan(context.SiteOutput);
            candidate = Task.Run(async () => await ReleaseCandidate.CreateAsync(scan, await commit, _time, token), token);
        }

        var report = new DeployReport { Operation = settings.Plan ? "plan" : "deploy", StartedAt = _time.GetUtcNow() };
        try
        {
            await DeployAllAsync(report, candidate);
        }
        finally
        {
            // Where the time went, machine-readable (the benchmark's phases); written whatever the outcome, so none is stale.
            await Output.ArtifactFile.WriteAllTextAsync(Path.Join(context.Artifacts, PhaseTimes.FileName), context.Clock.Times().ToJson() + "\n");
        }
    }

    private async Task DeployAllAsync(DeployReport report, Task<ReleaseCandidate> candidate)
    {
        var settings = context.Deploy;
        var token = context.CancellationToken;
        await RunAsync(report, "Deploy", async (fanOut, progress) =>
        {
            if (settings.Plan)
            {
                await fanOut.PlanAsync(candidate, report, token);
                Fill(report, await candidate);
                return;
            }
            var result = await fanOut.DeployAsync(candidate, report, token);
            Fill(report, await candidate);
            // Written plainly (Cake's log colours the numbers): the benchmark parses the first line.
            Console.WriteLine(DeploySummary.Headline(report, result.Elapsed));
            context.Clock.Mark(RunMark.DeployEnd);
        }, candidate);
    }

    public async Task RollbackAsync()
    {
        var report = new DeployReport { Operation = "rollback", StartedAt = _time.GetUtcNow(), ReleaseId = context.Deploy.Release };
        await RunAsync(report, "Rollback", (fanOut, _) => fanOut.RollbackAsync(ReleaseId.TryParse(context.Deploy.Release), report, context.CancellationToken));
    }

    public async Task ReleasesAsync()
    {
        var report = new DeployReport { Operation = "releases", StartedAt = _time.GetUtcNow() };
        using var probe = Probe();
        var gate = probe is null ? null : new HealthGate(context.Health, probe, _time);
        await RunAsync(report, "Releases", (fanOut, _) => fanOut.ForEachAsync(report, async (target, session, ct) =>
        {
            var state = await session.InspectAsync(withManifest: false, ct);
            // What the web server serves, next to what current points at: they differ when its root is not <root>/current.
            var serves = gate is null ? null : await gate.ServesAsync(target, ct);
            context.Information(ReleaseListing.Format(target.Name, session.Root.Path, state, _time.GetUtcNow(), context.Deploy.LockTimeout, serves));
            return Outcome.Unchanged;
        }, context.CancellationToken), writeReport: false);
    }

    /// <summary>The health check's HTTP client when --health-url is set: the way SSH goes (the tailnet's SOCKS5 endpoint in userspace mode).</summary>
    private HttpHealthProbe? Probe() =>
        context.Health.Enabled ? new HttpHealthProbe(context.Health.Host, context.Socks5Proxy, context.Health.RequestTimeout) : null;

    public async Task UnlockAsync()
    {
        var report = new DeployReport { Operation = "unlock", StartedAt = _time.GetUtcNow() };
        await RunAsync(report, "Unlock", (fanOut, _) => fanOut.ForEachAsync(report, async (target, session, ct) =>
        {
            // A lock whose heartbeat is fresh belongs to a deploy that is running: refused (a failure naming it) unless --force-unlock.
            var (wasLocked, owner, age) = await session.UnlockAsync(context.Deploy.ForceUnlock, ct);
            context.Information(wasLocked
                ? $"{target.Name}: removed the lock of {session.Root} held by {owner?.ToString() ?? "an unknown owner"} ({ReleaseListing.Heartbeat(age, context.Deploy.LockTimeout)})"
                : $"{target.Name}: {session.Root} was not locked");
            return Outcome.Unchanged;
        }, context.CancellationToken), writeReport: false);
    }

    /// <summary>
    /// Starts connecting to the servers FindServers found, so that the handshakes overlap what runs before the first
    /// step (<see cref="EarlyConnections"/>). Settings the connections need that are wrong (a missing key) are left for
    /// the task to report, as without this.
    /// </summary>
    public void ConnectEarly()
    {
        if (context.Servers.Count == 0) return;
        SshConnector connector;
        try
        {
            connector = SshConnector.FromSettings(context.Ssh, context.Socks5Proxy);
        }
        catch (Settings.SettingsException)
        {
            return;
        }
        // An offline peer is not deployed to (its deploy fails at once): nothing to open.
        context.EarlyConnections = new EarlyConnections(context.Servers.Where(s => s.Online), Connect(connector), context.CancellationToken,
            server => context.StartupConnections.Take(server, context.Ssh));
    }

    internal static ConnectServer Connect(SshConnector connector) => async (server, ct) =>
    {
        var connection = await connector.ConnectAsync(server, ct);
        return new ServerLink(connection.Shell, connection);
    };

    private static void Fill(DeployReport report, ReleaseCandidate candidate)
    {
        report.ReleaseId = candidate.ReleaseId;
        report.Commit = candidate.Info.Commit;
    }

    private async Task RunAsync(DeployReport report, string target, Func<FanOut, IDeployProgress, Task> operation, Task? background = null, bool writeReport = true)
    {
        var servers = context.Servers;
        if (servers.Count == 0)
            throw new Settings.SettingsException("No servers to work on: FindServers found none. Check --tags, or give --hosts=name=address[:port].");

        context.Health.CheckFor(servers);
        // The connections FindServers opened, and their connector (key and known_hosts read once), else a connector of its own.
        ConnectServer connect = context.EarlyConnections is { } early ? early.ConnectAsync : Connect(SshConnector.FromSettings(context.Ssh, context.Socks5Proxy));
        using var probe = Probe();
        var run = ReleaseRun.FromEnvironment(Environment.GetEnvironmentVariable);
        try
        {
            await ProgressDisplay.RunAsync(servers.Select(s => s.Name).ToList(), ProgressDisplay.IsInteractive, m => context.Information(m), async progress =>
            {
                var options = FanOutOptions.From(context.Deploy) with { ListFiles = context.Log.Verbosity >= Cake.Core.Diagnostics.Verbosity.Verbose };
                var release = ReleaseOptions.From(context.Deploy) with { Marker = context.Health.Marker };
                var gate = probe is null ? null : new HealthGate(context.Health, probe, _time);
                var fanOut = new FanOut(servers, connect, run, release, options, context.Clock.Wrap(progress), _time, target == "Releases" ? null : gate);
                await operation(fanOut, progress);
                return true;
            });
        }
        finally
        {
            // Settle the background hashing so its failure is observed, not thrown on the finalizer thread.
            if (background is not null) await background.ContinueWith(_ => { }, TaskScheduler.Default);
            // The summary stays outside the task's collapsed log section.
            context.Sections.End();
            if (writeReport)
            {
                await report.WriteAsync(context.Artifacts);
                context.Information(DeploySummary.Table(report));
            }
            else
            {
                // Listings and unlocks printed their own lines; only failures are left to say.
                foreach (var failed in report.Failed) context.Error($"{failed.Server}: {failed.Error}");
            }
        }

        // A switch-back is a deploy that did not happen: exit 3 even when every server serves a healthy release again.
        if (report.Failed.Any() || report.Servers.Any(s => s.Outcome == Outcome.SwitchedBack))
            throw new PipelineException(DeploySummary.FailureMessage(report, target, context.CommandLineOptions), ExitCodes.SomeServersFailed);
    }
}
