using Build.Tests.Support;

namespace Build.Tests;

/// <summary>
/// The pipeline's exit codes, run as a real process on the host as it is (which, like Cake.Frosting,
/// only says 0 or -1): the pipeline maps its own failures. Signals: see Tailnet/PipelineProcessTests.
/// </summary>
public sealed class PipelineExitTests : IDisposable
{
    private readonly TempDir _dir = new("exit");

    public void Dispose() => _dir.Dispose();

    private Task<PipelineRun> RunAsync(params string[] arguments) =>
        PipelineProcess.RunAsync(arguments, _dir.Path, new Dictionary<string, string>(), TimeSpan.FromSeconds(60));

    [Theory]
    [InlineData("--target=Nope", "Unknown target: 'Nope'")]
    [InlineData("stray", "Unexpected argument 'stray'")]
    [InlineData("--working=/nonexistent/dir", "/nonexistent/dir")]
    [InlineData("--target=Deploy --parallel=0", "--parallel")]
    public async Task Bad_input_exits_2_and_runs_nothing(string arguments, string named)
    {
        var run = await RunAsync(arguments.Split(' '));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(named, run.Text);
        Assert.DoesNotContain("Task", run.Stdout); // no task ran, so no task report
    }

    [Fact]
    public async Task A_failing_task_exits_1()
    {
        _dir.File("built/index.html", """<a href="/missing.html">gone</a>""");

        var run = await RunAsync("--target=CheckSite", "--site-dir=built");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("broken internal link", run.Text);
    }

    [Fact]
    public async Task Success_exits_0_and_help_lists_the_settings()
    {
        _dir.File("site/db.json", "{}");
        var clean = await RunAsync("--target=Clean");
        var help = await RunAsync("--help");

        Assert.Equal(0, clean.ExitCode);
        Assert.False(File.Exists(Path.Join(_dir.Path, "site", "db.json")));
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("README.md", help.Stdout);
    }
}
