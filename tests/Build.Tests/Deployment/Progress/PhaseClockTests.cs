using Build.Deployment.Progress;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests.Deployment.Progress;

public sealed class PhaseClockTests
{
    private sealed class Lines : IDeployProgress
    {
        public List<string> Seen { get; } = [];
        public void Phase(string server, DeployPhase phase, string? detail = null) => Seen.Add($"{server} {phase.ToString().ToLowerInvariant()}");
        public void Upload(string server, long sent, long total) => Seen.Add($"{server} {sent}/{total}");
    }

    [Fact]
    public void Each_part_runs_from_the_first_server_entering_it_to_the_last_leaving_it()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-30T10:00:00Z"));
        var clock = new PhaseClock(time, time.GetUtcNow());
        var inner = new Lines();
        var progress = clock.Wrap(inner);
        void After(double seconds) => time.Advance(TimeSpan.FromSeconds(seconds));

        After(0.4); clock.Mark(RunMark.CheckStart); clock.Mark(RunMark.HashStart);
        After(0.1); clock.Mark(RunMark.HashEnd);
        After(0.2); clock.Mark(RunMark.CheckEnd);
        After(0.05); clock.Mark(RunMark.DeployStart);
        progress.Phase("a", DeployPhase.Connect); progress.Phase("b", DeployPhase.Connect);
        After(0.3); progress.Phase("a", DeployPhase.Lock);
        After(0.1); progress.Phase("b", DeployPhase.Lock);
        After(0.2); progress.Phase("a", DeployPhase.Upload);
        After(0.1); progress.Phase("b", DeployPhase.Unchanged, "already serving it");
        After(1.0); progress.Phase("a", DeployPhase.Verified);
        progress.Upload("a", 5, 10);
        After(0.1); progress.Phase("a", DeployPhase.Switch);
        After(0.05); progress.Phase("a", DeployPhase.Switched);
        clock.Mark(RunMark.DeployEnd);

        var times = clock.Times();

        Assert.Equal(new PhaseTimes(Start: 0.4, Check: 0.3, Hash: 0.1, Connect: 0.4, Lock: 0.4, Upload: 1.1, Switch: 0.05, Total: 2.6), times);
        Assert.Equal(["a connect", "b connect", "a lock", "b lock", "a upload", "b unchanged", "a verified", "a 5/10", "a switch", "a switched"], inner.Seen);
        Assert.Equal(times, PhaseTimes.FromJson(times.ToJson()));
    }

    [Fact]
    public void Parts_never_reached_are_null_and_a_mark_counts_once()
    {
        var time = new FakeTimeProvider();
        var clock = new PhaseClock(time, time.GetUtcNow());
        After(1);
        clock.Mark(RunMark.DeployStart);
        After(1);
        clock.Mark(RunMark.DeployStart);
        clock.Wrap(new Lines()).Phase("a", DeployPhase.Connect);

        var times = clock.Times();

        Assert.Equal(1.0, times.Start); // no check ran: start ends where the deploy began
        Assert.Null(times.Check);
        Assert.Null(times.Connect);
        Assert.Null(times.Upload);
        Assert.Null(times.Total);
        Assert.Contains("\"connect\":null", times.ToJson());

        void After(double s) => time.Advance(TimeSpan.FromSeconds(s));
    }
}
