using System.Globalization;

namespace Bench;

/// <summary>
/// Runs every (scenario, server count, contender) the options select, --bench-runs times, runs
/// interleaved across contenders so load on the machine hits them alike. Each run gets fresh
/// remote directories; for rebuild the previous build is put there first, untimed. With
/// <paramref name="keepRemoteCopies"/> they stay until the farm is disposed: deleting a copy of the
/// site between runs made the file creation of the runs after it 2–7x slower here (ext4 on a VM
/// disk), a drift that grew through the whole benchmark.
/// </summary>
public sealed class BenchRunner(BenchOptions options, ServerFarm farm, BenchSites? sites, IReadOnlyList<IContender> contenders, Action<string> log,
    bool keepRemoteCopies)
{
    /// <summary>Remote copies of the site the runs write (rebuild counts twice: its first build, then the rebuild).</summary>
    public static int RemoteCopies(BenchOptions options)
    {
        var servers = new[] { 1, options.Servers }.Distinct().Sum();
        var perScenario = options.Runs * options.Contenders.Count * servers;
        var doubling = options.Scenarios.Contains("cold") ? options.Runs * 2 * options.Contenders.Count(c => c is "deploy" or "rsync-sequential") : 0;
        // during-deploy deletes its small copies after each run.
        return options.Scenarios.Where(BenchOptions.UsesHexoSite).Sum(s => BenchOptions.IsRebuild(s) ? 2 * perScenario : perScenario) + doubling;
    }

    public IReadOnlyList<int> ServerCounts => new[] { 1, options.Servers }.Distinct().ToArray();

    public async Task<IReadOnlyList<BenchResult>> RunAsync(CancellationToken cancellationToken)
    {
        var groups = new List<(string, int, string, IReadOnlyList<RunMeasure>)>();
        var loads = new Dictionary<(string, int, string), IReadOnlyList<TestHosts.LoadCounts>>();
        foreach (var scenario in options.Scenarios)
        {
            if (scenario == BenchOptions.DuringDeploy)
            {
                await DuringDeployAsync(groups, loads, cancellationToken);
                continue;
            }
            foreach (var servers in ServerCounts)
            {
                var runs = contenders.ToDictionary(c => c.Name, _ => new List<RunMeasure>());
                for (var run = 1; run <= options.Runs; run++)
                    foreach (var contender in contenders)
                    {
                        var m = await MeasureAsync(scenario, servers, contender, run, cancellationToken);
                        runs[contender.Name].Add(m);
                        log(string.Create(CultureInfo.InvariantCulture,
                            $"  {scenario,-7} {servers} server(s) {contender.Name,-17} run {run}: {m.Seconds:0.000} s, cpu {m.CpuSeconds:0.00} s, up {m.BytesUp:N0} B, down {m.BytesDown:N0} B, peak {m.PeakRssKb / 1024.0:0.0} MB"));
                    }
                groups.AddRange(contenders.Select(c => (scenario, servers, c.Name, (IReadOnlyList<RunMeasure>)runs[c.Name])));
            }
        }
        return BenchReport.Summarise(groups, options.Rtt, loads);
    }

    /// <summary>
    /// during-deploy at one server (the readers read one web server), runs interleaved across deploy and rsync; each
    /// deploy of a run is one measure, the readers' counts one per run.
    /// </summary>
    private async Task DuringDeployAsync(List<(string, int, string, IReadOnlyList<RunMeasure>)> groups,
        Dictionary<(string, int, string), IReadOnlyList<TestHosts.LoadCounts>> loads, CancellationToken cancellationToken)
    {
        var scenario = new DuringDeploy(farm, log);
        var taking = contenders.Where(DuringDeploy.Takes).ToArray();
        if (taking.Length == 0)
        {
            log("  during-deploy: skipped (it runs deploy and rsync-sequential; neither is in --bench-contenders)");
            return;
        }
        var deploys = taking.ToDictionary(c => c.Name, _ => new List<RunMeasure>());
        var counts = taking.ToDictionary(c => c.Name, _ => new List<TestHosts.LoadCounts>());
        for (var run = 1; run <= options.Runs; run++)
            foreach (var contender in taking)
            {
                var measured = await scenario.RunAsync(contender, run, cancellationToken);
                deploys[contender.Name].AddRange(measured.Deploys);
                counts[contender.Name].Add(measured.Load);
            }
        foreach (var c in taking)
        {
            groups.Add((BenchOptions.DuringDeploy, 1, c.Name, deploys[c.Name]));
            loads[(BenchOptions.DuringDeploy, 1, c.Name)] = counts[c.Name];
        }
    }

    /// <summary>Median seconds of a contender, cold, 1 server, at the RTT doubled and not: the round-trip count behind its time.</summary>
    public async Task<(double AtRtt, double AtDoubleRtt)> RttDoublingAsync(IContender contender, CancellationToken cancellationToken)
    {
        var at = new List<double>();
        var doubled = new List<double>();
        try
        {
            for (var run = 1; run <= options.Runs; run++)
            {
                farm.SetRtt(options.Rtt);
                at.Add((await MeasureAsync("cold", 1, contender, run, cancellationToken, "rtt1")).Seconds);
                farm.SetRtt(options.Rtt * 2);
                doubled.Add((await MeasureAsync("cold", 1, contender, run, cancellationToken, "rtt2")).Seconds);
            }
        }
        finally
        {
            farm.SetRtt(options.Rtt);
        }
        return (Stats.Median(at), Stats.Median(doubled));
    }

    private async Task<RunMeasure> MeasureAsync(string scenario, int servers, IContender contender, int run, CancellationToken cancellationToken, string tag = "")
    {
        var remote = await farm.CreateRemoteBaseAsync($"{scenario}{tag}-{servers}-{contender.Name}-{run}", servers, cancellationToken);
        try
        {
            var hexo = sites ?? throw new InvalidOperationException($"{scenario} needs the Hexo site, which was not built");
            var rebuild = BenchOptions.IsRebuild(scenario);
            if (rebuild) await contender.RunAsync(hexo.First, remote, servers, cancellationToken);
            var site = rebuild ? hexo.Rebuild : hexo.First;
            // Untimed: flush what earlier runs wrote and deleted, so no run pays for another's writeback.
            (await ChildProcess.RunAsync("sync", [], cancellationToken: cancellationToken)).EnsureSuccess("sync");
            var (up0, down0) = farm.Bytes(servers);
            var cpu0 = CpuTime.OfChildren();
            // Only the timed run goes through the shared uplink: the untimed first build above does not.
            if (BenchOptions.IsCapped(scenario)) farm.SetSharedUplink(options.UplinkBytesPerSecond);
            ContenderRun result;
            try
            {
                result = await contender.RunAsync(site, remote, servers, cancellationToken);
            }
            finally
            {
                farm.SetSharedUplink(null);
            }
            var cpu = CpuTime.OfChildren() - cpu0;
            var (up1, down1) = farm.Bytes(servers);
            return new RunMeasure(result.Seconds, up1 - up0, down1 - down0, result.PeakRssKb, cpu, result.Phases);
        }
        finally
        {
            // Untimed; without room for every copy, each is deleted at once (and the drift above comes back).
            if (!keepRemoteCopies) Directory.Delete(remote, recursive: true);
        }
    }
}
