using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

using Build.Tests.Support;

namespace Build.Tests.Tailnet;

/// <summary>
/// The whole program (built Build.dll, as build.sh runs it) against the simulator: exit codes,
/// the leave in the teardown after success, failure and signals. They need the Frosting host
/// (CakeHost.Run) to be merged.
/// </summary>
[Trait("Requires", "FrostingHost")]
public sealed class PipelineProcessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FindServers_joins_retries_lists_and_leaves()
    {
        using var sim = new SimTailnet(new Dictionary<string, string> { ["TSSIM_UP_TRANSIENT_FAILURES"] = "1" });
        var run = await Pipeline.RunAsync(sim, "--target=FindServers", "--tags=tag:server1,tag:server2");
        output.WriteLine(run.Text);

        Assert.Equal(0, run.ExitCode);
        Assert.Matches(@"server1\s+web\s+100\.101\.0\.1\s+tag:server1\s+yes", run.Stdout);
        Assert.Matches(@"server3\s+old-box\s+100\.101\.0\.3\s+tag:server1\s+no \(unavailable\)", run.Stdout);
        var start = Assert.Single(sim.Events("daemon-start"));
        Assert.Contains("--state=mem:", SimTailnet.Argv(start));
        Assert.Equal(["transient", "ok"], sim.Events("up").Select(u => (string)u["result"]!));
        Assert.All(sim.Events("up"), u => Assert.Equal("600", (string?)u["key_file_mode"]));
        Assert.Contains("preauthorized=true", (string)sim.Events("up")[^1]["key_attributes"]!);
        AssertLeftInOrder(sim);
        sim.AssertSecretNowhere(run.Text, File.ReadAllText(Path.Join(run.Artifacts, "tailscaled.log")));
        Assert.True(File.Exists(Path.Join(run.Artifacts, "tailnet.json")));
    }

    [Fact]
    public async Task An_unknown_server_exits_2_and_still_leaves()
    {
        using var sim = new SimTailnet();
        var run = await Pipeline.RunAsync(sim, "--target=FindServers", "--server=nosuch");
        output.WriteLine(run.Text);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("matches no server", run.Text);
        AssertLeftInOrder(sim);
        sim.AssertSecretNowhere(run.Text);
    }

    [Fact]
    public async Task A_permanent_up_error_exits_2_without_retry_and_still_leaves()
    {
        using var sim = new SimTailnet(new Dictionary<string, string> { ["TSSIM_UP_PERMANENT"] = "tags" });
        var run = await Pipeline.RunAsync(sim, "--target=FindServers", "--retries=4");
        output.WriteLine(run.Text);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("tagOwners", run.Text);
        Assert.Single(sim.Events("up"));
        AssertLeftInOrder(sim);
        sim.AssertSecretNowhere(run.Text);
    }

    [Theory]
    [InlineData("SIGTERM", 15, 143)]
    [InlineData("SIGINT", 2, 130)]
    public async Task A_signal_while_up_hangs_cancels_leaves_and_exits(string name, int signal, int expected)
    {
        using var sim = new SimTailnet(new Dictionary<string, string> { ["TSSIM_UP_HANG"] = "1" });
        var run = await Pipeline.RunAsync(sim, ["--target=FindServers", "--ts-timeout=5m"], async process =>
        {
            await Support.Poll.UntilAsync(() => sim.Events("up").Count > 0, TimeSpan.FromSeconds(60), "up to hang");
            Assert.Equal(0, PipelineProcess.Signal(process, signal));
        });
        output.WriteLine($"{name}: {run.Text}");
        Assert.Equal(expected, run.ExitCode);
        AssertLeftInOrder(sim);
        Assert.False(File.Exists((string)sim.Events("up")[0]["key_file"]!));
        sim.AssertSecretNowhere(run.Text);
    }

    private static void AssertLeftInOrder(SimTailnet sim)
    {
        var events = sim.Records().Select(r => (string)r["event"]!).ToList();
        var logout = events.IndexOf("logout");
        Assert.True(logout >= 0, "logout recorded: " + string.Join(",", events));
        Assert.True(events.IndexOf("sigterm") > logout, "SIGTERM after logout: " + string.Join(",", events));
        Assert.Contains("daemon-exit", events);
    }
}

/// <summary>Runs the built pipeline the way build.sh does (<c>dotnet Build.dll</c>), SIGINT at its default disposition.</summary>
public static class Pipeline
{
    public sealed record Run(int ExitCode, string Stdout, string Stderr, string Artifacts, TimeSpan Elapsed)
    {
        public string Text => Stdout + "\n" + Stderr;
    }

    public static Task<Run> RunAsync(SimTailnet sim, params string[] arguments) => RunAsync(sim, arguments, null);

    public static async Task<Run> RunAsync(SimTailnet sim, string[] arguments, Func<Process, Task>? during)
    {
        var work = Path.Join(sim.Root, "work");
        Directory.CreateDirectory(work);
        string[] defaults = [$"--working={work}", $"--ts-socket={Path.Join(sim.Root, "ts.sock")}", "--retry-delay=50ms", "--ts-hostname=ci-pipeline-test", "--ts-ready-timeout=60s"];
        var environment = new Dictionary<string, string>
        {
            ["PATH"] = sim.Bin + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH"),
            ["TS_OAUTH_SECRET"] = SimTailnet.Secret,
        };
        var run = await PipelineProcess.RunAsync(defaults.Concat(arguments), Repo.Root, environment, TimeSpan.FromSeconds(120), during: during);
        return new Run(run.ExitCode, run.Stdout, run.Stderr, Path.Join(work, "artifacts"), run.Elapsed);
    }
}
