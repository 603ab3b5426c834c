using System.Globalization;
using System.Text.RegularExpressions;

namespace Bench;

/// <summary>One contender's measured run: the timed seconds and the peak memory of its local processes.</summary>
public sealed record ContenderRun(double Seconds, long PeakRssKb, BenchPhases? Phases = null);

/// <summary>A way to put a site onto servers, run through the farm's proxies.</summary>
public interface IContender
{
    string Name { get; }

    /// <summary>Deploys <paramref name="site"/> to the first <paramref name="servers"/> servers under <paramref name="remoteBase"/>/sN.</summary>
    Task<ContenderRun> RunAsync(string site, string remoteBase, int servers, CancellationToken cancellationToken);
}

/// <summary>The OpenSSH client options every contender uses: the proxy's port, the key, host keys checked.</summary>
public sealed class SshClient(ServerFarm farm)
{
    public IReadOnlyList<string> Options(BenchServer server) =>
        ["-p", server.Proxy.Port.ToString(CultureInfo.InvariantCulture), "-i", farm.KeyPath,
         "-o", $"UserKnownHostsFile={farm.KnownHostsPath}", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"];

    /// <summary>rsync's -e value (rsync splits it on spaces; the temp paths have none).</summary>
    public string RsyncShell(BenchServer server) => "ssh " + string.Join(' ', Options(server));

    public string Destination(BenchServer server) => $"{farm.UserName}@{server.Proxy.Address}";

    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

/// <summary><c>rsync -az --delete</c> to each server in turn (what a plain script does), or to all at once.</summary>
public sealed class RsyncContender(ServerFarm farm, bool parallel) : IContender
{
    private readonly SshClient _ssh = new(farm);

    public string Name => parallel ? "rsync-parallel" : "rsync-sequential";

    public async Task<ContenderRun> RunAsync(string site, string remoteBase, int servers, CancellationToken cancellationToken)
    {
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var targets = farm.Servers.Take(servers).ToArray();
        ChildResult[] results;
        if (parallel)
        {
            results = await Task.WhenAll(targets.Select(s => RsyncAsync(site, remoteBase, s, cancellationToken)));
        }
        else
        {
            results = new ChildResult[targets.Length];
            for (var i = 0; i < targets.Length; i++) results[i] = await RsyncAsync(site, remoteBase, targets[i], cancellationToken);
        }
        stopwatch.Stop();
        foreach (var r in results) r.EnsureSuccess(Name);
        return new ContenderRun(stopwatch.Elapsed.TotalSeconds, results.Max(r => r.PeakRssKb));
    }

    private Task<ChildResult> RsyncAsync(string site, string remoteBase, BenchServer server, CancellationToken cancellationToken) =>
        ChildProcess.RunAsync("rsync",
            ["-az", "--delete", "-e", _ssh.RsyncShell(server), site.TrimEnd('/') + "/", $"{_ssh.Destination(server)}:{remoteBase}/{server.Name}/"],
            cancellationToken: cancellationToken);
}

/// <summary><c>tar -cz -C site . | ssh host 'mkdir -p D &amp;&amp; tar -xz -C D'</c> into a fresh directory, server after server.</summary>
public sealed class TarSshContender(ServerFarm farm) : IContender
{
    private readonly SshClient _ssh = new(farm);
    private int _count;

    public string Name => "tar-ssh";

    public async Task<ContenderRun> RunAsync(string site, string remoteBase, int servers, CancellationToken cancellationToken)
    {
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        long peak = 0;
        var fresh = $"tar-{Interlocked.Increment(ref _count)}";
        foreach (var server in farm.Servers.Take(servers))
        {
            var dir = SshClient.Quote($"{remoteBase}/{server.Name}/{fresh}");
            string[] argv =
            [
                "-c", "set -o pipefail; tar -cz -C \"$1\" . | ssh \"${@:2}\"", "bash", site,
                .. _ssh.Options(server), _ssh.Destination(server), $"mkdir -p {dir} && tar -xz -C {dir}",
            ];
            var result = (await ChildProcess.RunAsync("bash", argv, cancellationToken: cancellationToken)).EnsureSuccess(Name);
            peak = Math.Max(peak, result.PeakRssKb);
        }
        stopwatch.Stop();
        return new ContenderRun(stopwatch.Elapsed.TotalSeconds, peak);
    }
}

/// <summary>
/// Our Deploy target, run exactly as a user runs it (<c>./build.sh --target=Deploy ...</c>, the program
/// already compiled by a warm-up build) with production defaults (host keys checked, site checked,
/// lock, verification). Timed like the others: the whole process, from exec to exit. The task's own
/// "connect to last switch" line is a breakdown, logged beside it.
/// </summary>
public sealed partial class DeployContender(ServerFarm farm, string repositoryRoot, Action<string>? onLine = null) : IContender
{
    public string Name => "deploy";

    /// <summary>The program build.sh compiled: the native or self-contained executable, else Build.dll; null when neither is there.</summary>
    public static string? BuiltProgram(string repositoryRoot)
    {
        var bin = Path.Join(repositoryRoot, ".build", "bin");
        return new[] { Path.Join(bin, "Build"), Path.Join(bin, "Build.dll") }.FirstOrDefault(File.Exists);
    }

    public IReadOnlyList<string> Arguments(string site, string remoteBase, int servers) =>
    [
        Path.Join(repositoryRoot, "build.sh"), "--target=Deploy", $"--site-dir={site}", "--tailnet=off",
        "--hosts=" + string.Join(',', farm.Servers.Take(servers).Select(s => $"{s.Name}={s.Proxy.Address}:{s.Proxy.Port}")),
        $"--ssh-user={farm.UserName}", $"--ssh-key={farm.KeyPath}", $"--known-hosts={farm.KnownHostsPath}",
        $"--remote-root={remoteBase}/{{server}}", .. Extra,
    ];

    /// <summary>Arguments added after the usual ones (the during-deploy scenario's health check).</summary>
    public IReadOnlyList<string> Extra { get; private init; } = [];

    /// <summary>The same contender with <paramref name="extra"/> added to its arguments.</summary>
    public DeployContender WithArguments(params string[] extra) => new(farm, repositoryRoot, onLine) { Extra = [.. Extra, .. extra] };

    /// <summary>Where the deploy writes its phase times (it runs from the repository root).</summary>
    public string TimingPath => Path.Join(repositoryRoot, "artifacts", "deploy-timing.json");

    public async Task<ContenderRun> RunAsync(string site, string remoteBase, int servers, CancellationToken cancellationToken)
    {
        // A file left by an earlier run must never pass for this run's phases.
        if (File.Exists(TimingPath)) File.Delete(TimingPath);
        var result = (await ChildProcess.RunAsync("bash", Arguments(site, remoteBase, servers), repositoryRoot, onLine, cancellationToken,
            new Dictionary<string, string> { ["NO_COLOR"] = "1" })).EnsureSuccess("deploy");
        // BENCH_DEPLOY_LOG=FILE keeps deploy's own output (its phase lines carry timings) for profiling.
        if (Environment.GetEnvironmentVariable("BENCH_DEPLOY_LOG") is { Length: > 0 } log)
            await File.AppendAllTextAsync(log, result.Output, cancellationToken);
        // The closing line proves the deploy happened (and gives the breakdown); the time is the process's.
        _ = ParseDeployedSeconds(result.Output)
            ?? throw new InvalidOperationException($"deploy did not print 'Deployed release <id> to <n> servers in <seconds> s'. Its output:\n{result.Tail()}");
        var phases = File.Exists(TimingPath) ? BenchPhases.FromDeployTiming(await File.ReadAllTextAsync(TimingPath, cancellationToken)) : null;
        return new ContenderRun(result.Elapsed.TotalSeconds, result.PeakRssKb, phases);
    }

    /// <summary>Whether the built program lists a Deploy task (its --description table, one task name per row at the left).</summary>
    public static async Task<bool> HasDeployTargetAsync(string repositoryRoot, CancellationToken cancellationToken)
    {
        var program = BuiltProgram(repositoryRoot) ?? throw new FileNotFoundException("build.sh has not compiled the pipeline", repositoryRoot);
        var (file, arguments) = program.EndsWith(".dll", StringComparison.Ordinal) ? ("dotnet", new[] { program, "--description" }) : (program, ["--description"]);
        var result = await ChildProcess.RunAsync(file, arguments, repositoryRoot,
            cancellationToken: cancellationToken, environment: new Dictionary<string, string> { ["NO_COLOR"] = "1" });
        return ListsDeployTask(result.Output);
    }

    internal static bool ListsDeployTask(string descriptionTable) =>
        AnsiEscape().Replace(descriptionTable, "").Split('\n').Any(line => Regex.IsMatch(line, @"^\s{0,4}Deploy(\s|$)"));

    /// <summary>The seconds of the Deploy task's closing line, or null when there is none.</summary>
    public static double? ParseDeployedSeconds(string output)
    {
        // Cake colours a log line's arguments with ANSI escapes even when redirected: drop them first.
        var matches = DeployedLine().Matches(AnsiEscape().Replace(output, ""));
        return matches.Count == 0 ? null : double.Parse(matches[^1].Groups["s"].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"Deployed release \S+ to \d+ servers? in (?<s>\d+(?:\.\d+)?) s\b")]
    private static partial Regex DeployedLine();

    [GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]")]
    private static partial Regex AnsiEscape();
}
