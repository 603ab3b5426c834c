using Bench;

namespace Build.Tests.Bench;

public sealed class ChildProcessTests
{
    [Fact]
    public void Peak_memory_is_read_from_proc_for_a_live_process_and_zero_for_none()
    {
        Assert.True(ChildProcess.ReadVmHwmKb(Environment.ProcessId) > 1024);
        Assert.Equal(0, ChildProcess.ReadVmHwmKb(int.MaxValue));
        Assert.Contains(Environment.ProcessId, ChildProcess.Tree(Environment.ProcessId));
    }

    [Fact]
    public async Task Runs_a_real_program_with_its_exit_code_output_and_time()
    {
        var result = await ChildProcess.RunAsync("sh", ["-c", "echo out; echo err >&2; exit 3"]);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("out", result.Output, StringComparison.Ordinal);
        Assert.Contains("err", result.Output, StringComparison.Ordinal);
        Assert.True(result.Elapsed > TimeSpan.Zero);
        Assert.Contains("exit code 3", Assert.Throws<InvalidOperationException>(() => result.EnsureSuccess("sh")).Message, StringComparison.Ordinal);
    }
}
