using System.Globalization;
using Bench;

// The deploy benchmark (issue 5). Run by ./build.sh --target=Bench; see tests/Bench/README.md.
using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    interrupt.Cancel();
};
try
{
    return await BenchProgram.RunAsync(args, interrupt.Token);
}
catch (BenchOptionsException e)
{
    Console.Error.WriteLine($"bench: {e.Message}");
    return 2;
}
catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
{
    Console.Error.WriteLine("bench: interrupted");
    return 130;
}

namespace Bench
{
    public static class BenchProgram
    {
        public static async Task<int> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
        {
            var options = BenchOptions.Parse(args);
            var root = RepositoryRoot(Environment.CurrentDirectory);
            var siteSource = Path.GetFullPath(options.Site ?? Path.Join(root, "site"), root);
            var output = Path.GetFullPath(options.Output ?? Path.Join(root, "artifacts", "bench.json"), root);
            if (options.Contenders.Contains("deploy") && DeployContender.BuiltProgram(root) is null)
                throw new BenchOptionsException($"The deploy contender runs the program build.sh compiles into {Path.Join(root, ".build", "bin")}, which is not there. Build it with ./build.sh (any target), or leave deploy out: --bench-contenders=rsync-sequential,rsync-parallel,tar-ssh.");
            if (options.Contenders.Contains("deploy") && !await DeployContender.HasDeployTargetAsync(root, cancellationToken))
                throw new BenchOptionsException($"{DeployContender.BuiltProgram(root)} has no Deploy target (its --description does not list it). Rebuild it with ./build.sh once Deploy is in the tree, or leave deploy out: --bench-contenders=rsync-sequential,rsync-parallel,tar-ssh.");
            string[] tools = options.Scenarios.Any(BenchOptions.UsesHexoSite) ? ["rsync", "ssh", "tar", "node", "bash"] : ["rsync", "ssh", "bash"];
            foreach (var tool in tools)
                if (!OnPath(tool)) throw new BenchOptionsException($"'{tool}' is not on PATH; the benchmark needs it.");
            if (options.Scenarios.Contains(BenchOptions.DuringDeploy) && !TestHosts.NginxServer.IsInstalled)
                throw new BenchOptionsException($"The during-deploy scenario runs nginx ({TestHosts.NginxServer.Binary}), which is not installed. Install Debian's nginx, or leave the scenario out: --bench-scenarios=cold,rebuild,cold-capped,rebuild-capped.");

            void Log(string line) => Console.WriteLine(line);
            Log(string.Create(CultureInfo.InvariantCulture,
                $"Bench: {options.Posts} posts, {options.Servers} servers, rtt {options.Rtt.TotalMilliseconds} ms, bandwidth {(options.BandwidthBytesPerSecond is { } b ? $"{b * 8 / 1e6:0.###} Mbit/s" : "unlimited")}, {options.Runs} run(s); contenders {string.Join(",", options.Contenders)}; scenarios {string.Join(",", options.Scenarios)}"));

            var work = Directory.CreateTempSubdirectory("bench-").FullName;
            try
            {
                // during-deploy alone writes its own site: no Hexo build to wait for.
                BenchSites? sites = null;
                if (options.Scenarios.Any(BenchOptions.UsesHexoSite))
                {
                    sites = await new SiteBuilder(siteSource, work, Log).BuildAsync(options.Posts, cancellationToken);
                    Log($"Site: {sites.Files} files, {sites.Bytes / 1e6:0.0} MB");
                }
                await using var farm = await ServerFarm.StartAsync(options.Servers, options.Rtt, options.BandwidthBytesPerSecond, cancellationToken);
                Log($"Servers: {string.Join(", ", farm.Servers.Select(s => $"{s.Name} {s.Sshd.Address}:{s.Sshd.Port} via {s.Proxy.Address}:{s.Proxy.Port}"))}");

                var contenders = options.Contenders.Select(name => Contender(name, farm, root)).ToArray();
                var keep = KeepRemoteCopies(options, sites, farm.Directory, Log);
                var runner = new BenchRunner(options, farm, sites, contenders, Log, keep);
                var rows = await runner.RunAsync(cancellationToken);
                rows = [.. rows, await CiStart.MeasureAsync(root, work, options.Runs, options.Rtt, cancellationToken)];

                Directory.CreateDirectory(Path.GetDirectoryName(output)!);
                await File.WriteAllTextAsync(output, BenchReport.ToJson(rows) + "\n", cancellationToken);
                Console.Write(BenchReport.Table(rows));
                Log("");

                foreach (var contender in contenders.Where(c => c.Name is "deploy" or "rsync-sequential"))
                {
                    if (options.Rtt <= TimeSpan.Zero || !options.Scenarios.Contains("cold")) break;
                    var (t1, t2) = await runner.RttDoublingAsync(contender, cancellationToken);
                    Log(string.Create(CultureInfo.InvariantCulture,
                        $"Extra round trips when RTT doubles ({contender.Name}, cold, 1 server): {Stats.ExtraRoundTrips(t1, t2, options.Rtt):0.0} ({t1:0.000} s at {options.Rtt.TotalMilliseconds} ms, {t2:0.000} s at {options.Rtt.TotalMilliseconds * 2} ms)"));
                }
                Log($"Results: {output}");
                return 0;
            }
            finally
            {
                try { Directory.Delete(work, recursive: true); }
                catch (IOException e) { Console.Error.WriteLine($"bench: could not remove {work}: {e.Message}"); }
            }
        }

        /// <summary>Keep every run's remote copy until the end when the disk has room for all of them (and 2 GB more).</summary>
        private static bool KeepRemoteCopies(BenchOptions options, BenchSites? sites, string farmDirectory, Action<string> log)
        {
            var needed = (long)(BenchRunner.RemoteCopies(options) * (sites?.Bytes ?? 0) * 1.5) + (2L << 30);
            long free;
            try { free = new DriveInfo(farmDirectory).AvailableFreeSpace; }
            catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { free = 0; }
            var keep = free >= needed;
            log(keep
                ? $"Remote copies: kept until the end ({needed / 1e9:0.0} GB at most of {free / 1e9:0.0} GB free), so no run pays for deleting an earlier one"
                : $"Remote copies: deleted after each run ({needed / 1e9:0.0} GB needed to keep them, {free / 1e9:0.0} GB free); expect later runs to be slower");
            return keep;
        }

        private static IContender Contender(string name, ServerFarm farm, string root) => name switch
        {
            "deploy" => new DeployContender(farm, root),
            "rsync-sequential" => new RsyncContender(farm, parallel: false),
            "rsync-parallel" => new RsyncContender(farm, parallel: true),
            "tar-ssh" => new TarSshContender(farm),
            _ => throw new BenchOptionsException($"Unknown contender '{name}'."),
        };

        /// <summary>The nearest folder up from <paramref name="start"/> holding build.sh and build/; else <paramref name="start"/>.</summary>
        internal static string RepositoryRoot(string start)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Join(dir.FullName, "build.sh")) && Directory.Exists(Path.Join(dir.FullName, "build")))
                    return dir.FullName;
            return start;
        }

        private static bool OnPath(string tool) =>
            (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Any(d => File.Exists(Path.Join(d, tool)));
    }
}
