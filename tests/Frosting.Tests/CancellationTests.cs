namespace Frosting.Tests;

/// <summary>Real signals (kill -INT / -TERM) to the sample host while a task waits on the cancellation token.</summary>
public sealed class CancellationTests
{
    [Theory]
    [InlineData("TERM", 143)]
    [InlineData("INT", 130)]
    public async Task A_signal_cancels_the_running_task_runs_the_teardown_and_exits_128_plus_the_signal(string signal, int expected)
    {
        await using var host = SampleHostProcess.Start("--target=Wait");
        await host.WaitForLineAsync("WAITING");

        await host.SignalAsync(signal);
        var code = await host.WaitForExitAsync();

        Assert.Equal(expected, code);
        var result = new HostResult(code, host.Lines);
        // The observer registered in DI heard the signal, the task stopped, Finally and the teardown ran.
        result.AssertOrder("WAITING", $"OBSERVED SIG{signal}", "FINALLY Wait", "TEARDOWN-START successful=False", "TEARDOWN-END");
        Assert.False(result.Has("RUN Wait (not reached)"), result.Output);
        Assert.Contains(result.Lines, l => l.Contains($"Interrupted by SIG{signal}") && l.Contains($"Exit code {expected}"));
    }

    [Theory]
    [InlineData("TERM", "TERM", 143)]
    [InlineData("INT", "TERM", 130)]
    public async Task A_second_signal_during_the_teardown_does_not_cut_it_short(string first, string second, int expected)
    {
        await using var host = SampleHostProcess.Start("--target=Wait", "--slow-teardown");
        await host.WaitForLineAsync("WAITING");
        await host.SignalAsync(first);

        // The teardown now blocks until it reads a line: a second signal arrives in the middle of it.
        await host.WaitForLineAsync("TEARDOWN-START");
        await host.SignalAsync(second);
        await host.WaitForLineAsync($"Received SIG{second} again: the teardown is still running");
        await host.WriteLineAsync("released");
        var code = await host.WaitForExitAsync();

        Assert.Equal(expected, code);
        var result = new HostResult(code, host.Lines);
        result.AssertOrder("TEARDOWN-START successful=False", "TEARDOWN-WAITING released", "TEARDOWN-END");
        Assert.Single(result.Lines, l => l.StartsWith("OBSERVED "));
    }
}
