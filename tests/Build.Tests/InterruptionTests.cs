using System.Runtime.InteropServices;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests;

/// <summary>The pipeline's own signal handling (build/Interruption.cs), with a fake clock and a recorded exit.</summary>
public sealed class InterruptionTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly List<string> _reports = [];
    private readonly List<int> _exits = [];

    private Interruption Create() => new(_time, TimeSpan.FromSeconds(30), _reports.Add, _exits.Add);

    [Fact]
    public void The_first_signal_cancels_the_token_and_does_not_exit()
    {
        using var interruption = Create();
        Assert.False(interruption.Token.IsCancellationRequested);

        interruption.Handle(PosixSignal.SIGTERM);

        Assert.True(interruption.Token.IsCancellationRequested);
        Assert.Equal(PosixSignal.SIGTERM, interruption.Received);
        Assert.Empty(_exits);
        Assert.Contains(_reports, r => r.Contains("Received SIGTERM") && r.Contains("teardown still runs"));
    }

    [Fact]
    public void Further_signals_within_the_bound_are_ignored_so_the_teardown_finishes()
    {
        using var interruption = Create();
        interruption.Handle(PosixSignal.SIGINT);

        _time.Advance(TimeSpan.FromSeconds(29.9));
        interruption.Handle(PosixSignal.SIGTERM);
        interruption.Handle(PosixSignal.SIGINT);

        Assert.Empty(_exits);
        Assert.Equal(PosixSignal.SIGINT, interruption.Received);
        Assert.Contains(_reports, r => r.Contains("SIGTERM again") && r.Contains("1 s more"));
    }

    [Theory]
    [InlineData(PosixSignal.SIGINT, 130)]
    [InlineData(PosixSignal.SIGTERM, 143)]
    public void After_the_bound_a_further_signal_exits_at_once_with_the_first_signals_code(PosixSignal first, int expected)
    {
        using var interruption = Create();
        interruption.Handle(first);

        _time.Advance(TimeSpan.FromSeconds(30));
        interruption.Handle(PosixSignal.SIGTERM);

        Assert.Equal([expected], _exits);
    }
}
