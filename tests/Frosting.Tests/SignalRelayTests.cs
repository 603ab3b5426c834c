using System.Runtime.InteropServices;
using Cake.Frosting.Internal;
using Microsoft.Extensions.Time.Testing;

namespace Frosting.Tests;

public sealed class SignalRelayTests
{
    private sealed class Recorder : IObserver<PosixSignal>
    {
        public List<PosixSignal> Seen { get; } = [];

        public void OnNext(PosixSignal value) => Seen.Add(value);

        public void OnCompleted() { }

        public void OnError(Exception error) { }
    }

    private sealed class Throwing : IObserver<PosixSignal>
    {
        public void OnNext(PosixSignal value) => throw new InvalidOperationException("observer broke");

        public void OnCompleted() { }

        public void OnError(Exception error) { }
    }

    private readonly FakeTimeProvider _time = new();
    private readonly List<string> _reports = [];
    private readonly List<int> _exits = [];

    private SignalRelay Relay(params IObserver<PosixSignal>[] observers) =>
        new(observers, _time, TimeSpan.FromSeconds(30), _reports.Add, _exits.Add);

    [Fact]
    public void The_first_signal_reaches_every_observer_once_and_does_not_exit()
    {
        var first = new Recorder();
        var second = new Recorder();
        using var relay = Relay(first, new Throwing(), second);

        relay.Handle(PosixSignal.SIGTERM);

        Assert.Equal([PosixSignal.SIGTERM], first.Seen);
        Assert.Equal([PosixSignal.SIGTERM], second.Seen);
        Assert.Equal(PosixSignal.SIGTERM, relay.Received);
        Assert.Empty(_exits);
        Assert.Contains(_reports, r => r.Contains("observer broke"));
    }

    [Fact]
    public void Further_signals_within_the_bound_are_ignored_so_the_teardown_finishes()
    {
        var observer = new Recorder();
        using var relay = Relay(observer);
        relay.Handle(PosixSignal.SIGINT);

        _time.Advance(TimeSpan.FromSeconds(29.9));
        relay.Handle(PosixSignal.SIGTERM);
        relay.Handle(PosixSignal.SIGINT);

        Assert.Empty(_exits);
        Assert.Equal([PosixSignal.SIGINT], observer.Seen);
        Assert.Equal(PosixSignal.SIGINT, relay.Received);
        Assert.Contains(_reports, r => r.Contains("SIGTERM again") && r.Contains("1 s more"));
    }

    [Theory]
    [InlineData(PosixSignal.SIGINT, 130)]
    [InlineData(PosixSignal.SIGTERM, 143)]
    public void After_the_bound_a_further_signal_exits_at_once_with_the_first_signals_code(PosixSignal first, int expected)
    {
        using var relay = Relay(new Recorder());
        relay.Handle(first);

        _time.Advance(TimeSpan.FromSeconds(30));
        relay.Handle(PosixSignal.SIGTERM);

        Assert.Equal([expected], _exits);
    }

    [Fact]
    public void Exit_codes_are_128_plus_the_signal_number()
    {
        Assert.Equal(130, SignalRelay.ExitCodeFor(PosixSignal.SIGINT));
        Assert.Equal(143, SignalRelay.ExitCodeFor(PosixSignal.SIGTERM));
    }
}
