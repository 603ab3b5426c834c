using Build.Deployment.Release;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests.Deployment.Release;

/// <summary>The heartbeat's timing, on a fake clock: when it beats, how it survives failures, how it ends.</summary>
public sealed class LockHeartbeatTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>A beat function that records the fake time of each call and answers from a queue (default: renewed).</summary>
    private sealed class Beats(FakeTimeProvider time)
    {
        private readonly SemaphoreSlim called = new(0);

        public List<DateTimeOffset> At { get; } = [];

        public Queue<Func<CancellationToken, Task<BeatOutcome>>> Answers { get; } = new();

        public async Task<BeatOutcome> Beat(CancellationToken cancellationToken)
        {
            lock (At) At.Add(time.GetUtcNow());
            called.Release();
            return Answers.TryDequeue(out var answer) ? await answer(cancellationToken) : BeatOutcome.Renewed;
        }

        public Task<bool> CalledAsync(TimeSpan within) => called.WaitAsync(within);
    }

    /// <summary>
    /// Moves the fake clock on until the heartbeat has beaten <paramref name="count"/> more times; <paramref name="exact"/>:
    /// each step is awaited until its beat comes, so the beats' times are exactly the steps'.
    /// </summary>
    private static async Task AdvanceUntilAsync(FakeTimeProvider time, Beats beats, int count, TimeSpan step, bool exact = false)
    {
        var deadline = DateTime.UtcNow + Bound;
        for (var i = 0; i < count; i++)
        {
            do
            {
                Assert.True(DateTime.UtcNow < deadline, "no beat");
                time.Advance(step);
            }
            while (!await beats.CalledAsync(exact ? Bound : TimeSpan.FromMilliseconds(50)));
        }
    }

    [Fact]
    public async Task A_tick_that_comes_with_the_stop_never_beats()
    {
        // The stop's wake-up of the waiting loop runs later than a tick that completes the same wait: a dropped
        // session's heartbeat must not renew the lock after it was stopped.
        for (var round = 0; round < 50; round++)
        {
            var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
            var beats = new Beats(time);
            var heartbeat = new LockHeartbeat(beats.Beat, TimeSpan.FromMinutes(2), time);
            heartbeat.Start();
            await AdvanceUntilAsync(time, beats, 1, heartbeat.Interval);
            while (heartbeat.Beats == 0) await Task.Delay(1);
            await Task.Delay(5); // lets the loop wait for its next tick again: the window this test is about
            var stopping = heartbeat.StopAsync();
            time.Advance(heartbeat.Interval);
            await stopping.WaitAsync(Bound);
            Assert.Single(beats.At);
        }
    }

    [Fact]
    public async Task It_beats_every_quarter_of_the_lock_timeout_until_stopped()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var beats = new Beats(time);
        var timeout = TimeSpan.FromMinutes(2);
        await using var heartbeat = new LockHeartbeat(beats.Beat, timeout, time);
        Assert.Equal(TimeSpan.FromSeconds(30), heartbeat.Interval);
        heartbeat.Start();

        // One interval at a time, each beat awaited before the clock moves on: the times are exact.
        await AdvanceUntilAsync(time, beats, 4, heartbeat.Interval, exact: true);
        var at = beats.At.ToList();
        Assert.Equal(4, at.Count);
        Assert.Equal(DateTimeOffset.UnixEpoch + TimeSpan.FromSeconds(30), at[0]);
        // Never more than a quarter of the timeout apart: a waiter sees the lock younger than the timeout all along.
        Assert.All(at.Zip(at.Skip(1)), pair => Assert.True(pair.Second - pair.First <= timeout / 4, $"{pair.First} -> {pair.Second}"));
        await heartbeat.StopAsync();
        var count = beats.At.Count;
        time.Advance(TimeSpan.FromMinutes(10));
        await Task.Delay(50);
        Assert.Equal(count, beats.At.Count);
        Assert.False(heartbeat.Running);
    }

    [Fact]
    public async Task A_failed_beat_is_retried_at_the_next_tick_and_failures_never_end_it()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var beats = new Beats(time);
        for (var i = 0; i < 2; i++) beats.Answers.Enqueue(_ => throw new IOException("channel refused"));
        await using var heartbeat = new LockHeartbeat(beats.Beat, TimeSpan.FromSeconds(40), time);
        heartbeat.Start();
        await AdvanceUntilAsync(time, beats, 3, TimeSpan.FromSeconds(1));
        Assert.True(heartbeat.Running);
        Assert.Null(heartbeat.LastError);
        Assert.Equal(1, heartbeat.Beats);

        // A link so slow that beats fail for longer than the lock timeout: the heartbeat keeps trying, and the
        // first beat that gets through renews the lock.
        for (var i = 0; i < 10; i++) beats.Answers.Enqueue(_ => throw new IOException("timed out behind the upload"));
        await AdvanceUntilAsync(time, beats, 10, TimeSpan.FromSeconds(1));
        Assert.True(heartbeat.Running);
        Assert.False(heartbeat.Lost);
        await AdvanceUntilAsync(time, beats, 1, TimeSpan.FromSeconds(1));
        var deadline = DateTime.UtcNow + Bound;
        while (heartbeat.Beats < 2) { Assert.True(DateTime.UtcNow < deadline, "no renewal after the failures"); await Task.Delay(5); }
        Assert.Equal(0, heartbeat.Failures);
    }

    [Fact]
    public async Task A_lost_lock_ends_the_heartbeat_and_says_so()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var beats = new Beats(time);
        beats.Answers.Enqueue(_ => Task.FromResult(BeatOutcome.Lost));
        await using var heartbeat = new LockHeartbeat(beats.Beat, TimeSpan.FromSeconds(10), time);
        heartbeat.Start();
        await AdvanceUntilAsync(time, beats, 1, TimeSpan.FromMilliseconds(500));
        var deadline = DateTime.UtcNow + Bound;
        while (heartbeat.Running) { Assert.True(DateTime.UtcNow < deadline); await Task.Delay(5); }
        Assert.True(heartbeat.Lost);
        time.Advance(TimeSpan.FromMinutes(1));
        await Task.Delay(20);
        Assert.Single(beats.At);
    }

    [Fact]
    public async Task A_hung_beat_is_cut_at_the_lock_timeout_and_stop_waits_for_a_beat_in_flight()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var beats = new Beats(time);
        var cancelled = new TaskCompletionSource();
        beats.Answers.Enqueue(async ct =>
        {
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { cancelled.TrySetResult(); throw; }
            return BeatOutcome.Renewed;
        });
        await using var heartbeat = new LockHeartbeat(beats.Beat, TimeSpan.FromSeconds(20), time);
        heartbeat.Start();
        await AdvanceUntilAsync(time, beats, 1, TimeSpan.FromSeconds(1));
        // The hung beat ends when its bound (the lock timeout) passes on the fake clock, and the next beat follows.
        await AdvanceUntilAsync(time, beats, 1, TimeSpan.FromSeconds(1));
        await cancelled.Task.WaitAsync(Bound);
        Assert.True(heartbeat.Running);

        var release = new TaskCompletionSource<BeatOutcome>();
        beats.Answers.Enqueue(_ => release.Task);
        await AdvanceUntilAsync(time, beats, 1, TimeSpan.FromSeconds(1));
        var stop = heartbeat.StopAsync();
        await Task.Delay(50);
        Assert.False(stop.IsCompleted, "stop returned while a beat was in flight");
        release.SetResult(BeatOutcome.Renewed);
        await stop.WaitAsync(Bound);
    }

    [Fact]
    public void The_interval_is_a_quarter_of_the_timeout()
    {
        Assert.Equal(TimeSpan.FromSeconds(2.5), LockHeartbeat.IntervalFor(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromHours(6), LockHeartbeat.IntervalFor(TimeSpan.FromHours(24)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LockHeartbeat(_ => Task.FromResult(BeatOutcome.Renewed), TimeSpan.Zero, TimeProvider.System));
    }
}
