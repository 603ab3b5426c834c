using Build.Output;
using Build.Processes;

namespace Build.Tests.Docker;

/// <summary>ProcessSpec.StandardInput, the way a secret reaches a tool (docker login --password-stdin) without argv.</summary>
public sealed class ProcessStdinTests
{
    private readonly ProcessRunner _runner = new(Redactor.None);

    [Fact]
    public async Task The_input_reaches_the_child_and_stdin_is_closed_after_it()
    {
        var result = await _runner.RunAsync(new ProcessSpec("/bin/sh", ["-c", "wc -c; cat"]) { StandardInput = "line one\nline two\n" }, CancellationToken.None);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("18", result.Output.Trim());
    }

    [Fact]
    public async Task Without_input_the_child_reads_end_of_file_at_once()
    {
        var result = await _runner.RunAsync(new ProcessSpec("/bin/sh", ["-c", "cat; echo done"]), CancellationToken.None);

        Assert.Equal("done\n", result.Output);
    }

    [Fact]
    public async Task A_child_that_exits_without_reading_its_input_is_not_an_error_of_the_runner()
    {
        var big = new string('x', 4 * 1024 * 1024);

        var result = await _runner.RunAsync(new ProcessSpec("/bin/sh", ["-c", "exit 3"]) { StandardInput = big }, CancellationToken.None);

        Assert.Equal(3, result.ExitCode);
    }

    [Fact]
    public async Task A_child_that_never_reads_its_input_is_still_bounded_by_the_timeout()
    {
        var big = new string('x', 4 * 1024 * 1024);

        var e = await Assert.ThrowsAsync<PipelineException>(() =>
            _runner.RunAsync(new ProcessSpec("/bin/sh", ["-c", "sleep 30"]) { StandardInput = big, Timeout = TimeSpan.FromMilliseconds(500) }, CancellationToken.None));

        Assert.Contains("did not finish within", e.Message);
    }
}
