using System.Globalization;
using TestHosts;

namespace Bench;

/// <summary>What one run of the <c>during-deploy</c> scenario measured: each deploy, and what the readers saw meanwhile.</summary>
public sealed record DuringDeployRun(IReadOnlyList<RunMeasure> Deploys, LoadCounts Load);

/// <summary>
/// The <c>during-deploy</c> scenario: readers of a blog while it is deployed <see cref="Deploys"/> times in a row. A real
/// nginx (<see cref="NginxServer"/>, unprivileged, its own config on the first server's loopback address) serves the
/// first server's tree: <c>&lt;remote-root&gt;/current</c> for deploy, the live tree itself for rsync. The bounded
/// <see cref="ReaderLoad"/> (4 readers, each fetching the home page and at once its newest post, stylesheet and image)
/// runs through all of them. Each deploy puts the next <see cref="LoadSite"/> version (a post more; the home page, every
/// post page and the stylesheet rewritten), written directly, no Hexo. The first version is put there untimed, before
/// nginx and the readers start.
/// </summary>
public sealed class DuringDeploy(ServerFarm farm, Action<string> log)
{
    public const int Deploys = 10;

    /// <summary>The readers stop by themselves after this, whatever the deploys do.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromMinutes(10);

    /// <summary>The contenders this scenario runs: deploy, and rsync -az --delete into the live tree.</summary>
    public static bool Takes(IContender contender) => contender.Name is "deploy" or "rsync-sequential";

    /// <summary>The web server's document root for a contender: where what readers see changes.</summary>
    public static string WebRoot(string contender, string serverTree) =>
        contender == "deploy" ? Path.Join(serverTree, "current") : serverTree;

    public async Task<DuringDeployRun> RunAsync(IContender contender, int run, CancellationToken cancellationToken)
    {
        var server = farm.Servers[0];
        var remote = await farm.CreateRemoteBaseAsync($"during-deploy-{contender.Name}-{run}", 1, cancellationToken);
        var site = Directory.CreateTempSubdirectory("bench-load-site-").FullName;
        try
        {
            LoadSite.Write(site, 1);
            await contender.RunAsync(site, remote, 1, cancellationToken);
            await using var nginx = await NginxServer.StartAsync(
                new NginxOptions { Address = server.Sshd.Address, Root = WebRoot(contender.Name, Path.Join(remote, server.Name)) }, cancellationToken);
            // Deploy as the README tells users to: gated on the web server serving the new release's marker.
            var timed = contender is DeployContender deploy
                ? deploy.WithArguments($"--health-url={new Uri(nginx.BaseUrl, ".well-known/release")}")
                : contender;
            var deploys = new List<RunMeasure>();
            LoadCounts load;
            try
            {
                load = await new ReaderLoad(nginx.BaseUrl).RunAsync(async ct =>
                {
                    for (var version = 2; version <= Deploys + 1; version++)
                    {
                        LoadSite.Write(site, version);
                        var (up0, down0) = farm.Bytes(1);
                        var cpu0 = CpuTime.OfChildren();
                        var result = await timed.RunAsync(site, remote, 1, ct);
                        var cpu = CpuTime.OfChildren() - cpu0;
                        var (up1, down1) = farm.Bytes(1);
                        deploys.Add(new RunMeasure(result.Seconds, up1 - up0, down1 - down0, result.PeakRssKb, cpu, result.Phases));
                    }
                }, Bound, cancellationToken);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new InvalidOperationException($"during-deploy: {contender.Name} made {deploys.Count} of {Deploys} deploys within {Bound.TotalMinutes:0} min, the readers' bound");
            }
            log(string.Create(CultureInfo.InvariantCulture,
                $"  during-deploy 1 server(s) {contender.Name,-17} run {run}: {Deploys} deploys, median {Stats.Median(deploys.Select(d => d.Seconds).ToArray()):0.000} s each; readers: {load}"));
            return new DuringDeployRun(deploys, load);
        }
        finally
        {
            Directory.Delete(site, recursive: true);
            Directory.Delete(remote, recursive: true);
        }
    }
}
