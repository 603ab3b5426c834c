namespace Build.Deployment.Release;

/// <summary>What one heartbeat learned: the lock is still ours, or another owner has it (stop beating).</summary>
public enum BeatOutcome { Renewed, Lost }

/// <summary>
/// Keeps a held lock alive: calls <c>beat</c> every <see cref="Interval"/> (a quarter of <c>--lock-timeout</c>) until
/// stopped, so a waiter never judges a live deploy abandoned however long it runs. A beat that fails (a refused
/// channel, a link so slow that the beat waits behind an upload) is tried again at the next tick, for as long as
/// the session holds the lock: only a lost lock or <see cref="StopAsync"/> (unlock, a dropped connection) ends it.
/// Each beat is bounded by the lock timeout: a later beat is of no use.
/// </summary>
public sealed class LockHeartbeat : IAsyncDisposable
{
    private readonly Func<CancellationToken, Task<BeatOutcome>> beat;
    private readonly TimeProvider time;
    private readonly CancellationTokenSource stop = new();
    private readonly TimeSpan bound;
    private Task? loop;
    private int beats;
    private int failures;

    public LockHeartbeat(Func<CancellationToken, Task<BeatOutcome>> beat, TimeSpan lockTimeout, TimeProvider time)
    {
        if (lockTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(lockTimeout), lockTimeout, "the lock timeout must be positive");
        this.beat = beat;
        this.time = time;
        Interval = IntervalFor(lockTimeout);
        bound = lockTimeout;
    }

    /// <summary>A quarter of the timeout: three beats may be lost before a waiter may take over.</summary>
    public static TimeSpan IntervalFor(TimeSpan lockTimeout) => lockTimeout / 4;

    public TimeSpan Interval { get; }

    /// <summary>Beats that failed in a row (the next tick tries again).</summary>
    public int Failures => Volatile.Read(ref failures);

    /// <summary>Beats that renewed the lock.</summary>
    public int Beats => Volatile.Read(ref beats);

    /// <summary>Set when a beat found the lock held by someone else: the next step fails with the lock lost.</summary>
    public bool Lost { get; private set; }

    /// <summary>The last beat's failure, if the last beat failed.</summary>
    public Exception? LastError { get; private set; }

    public bool Running => loop is { IsCompleted: false };

    /// <summary>Starts beating (the first beat one interval from now: the lock was just written).</summary>
    public void Start()
    {
        if (loop is not null) return;
        // The timer counts from now, not from whenever the loop first runs.
        var timer = new PeriodicTimer(Interval, time);
        loop = Task.Run(() => RunAsync(timer));
    }

    /// <summary>Stops beating and waits for a beat in flight, so that nothing renews the lock after this returns.</summary>
    public async Task StopAsync()
    {
        await stop.CancelAsync();
        if (loop is { } running)
            await running.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        stop.Dispose();
    }

    private async Task RunAsync(PeriodicTimer timer)
    {
        using var owned = timer;
        try
        {
            // A tick may complete the wait just after a stop was asked for (the stop's own wake-up comes later): no beat then.
            while (await timer.WaitForNextTickAsync(stop.Token) && !stop.IsCancellationRequested)
            {
                using var beatBound = new CancellationTokenSource(bound, time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, beatBound.Token);
                try
                {
                    if (await beat(linked.Token) == BeatOutcome.Lost)
                    {
                        Lost = true;
                        return;
                    }
                    Interlocked.Increment(ref beats);
                    Volatile.Write(ref failures, 0);
                    LastError = null;
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    LastError = e;
                    Interlocked.Increment(ref failures);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped while waiting for the next tick.
        }
    }
}
