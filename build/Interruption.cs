using System.Runtime.InteropServices;

namespace Build;

/// <summary>
/// SIGINT and SIGTERM (a cancelled CI job) as cancellation instead of death. The pipeline registers
/// them itself, not the host, so a swap to the Cake.Frosting package keeps them. The first signal
/// cancels <see cref="Token"/>, which every task observes, and the process keeps running so that the
/// engine's teardown (in a finally) can leave the tailnet. Further signals are ignored until
/// <see cref="TeardownBound"/> has passed since the first; after that, one more exits at once.
/// </summary>
public sealed class Interruption(TimeProvider time, TimeSpan bound, Action<string> report, Action<int> exit) : IDisposable
{
    public static readonly TimeSpan TeardownBound = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _cts = new();
    private readonly Lock _gate = new();
    private readonly List<PosixSignalRegistration> _registrations = [];
    private long _firstAt;
    private PosixSignal? _received;

    /// <summary>For the program: reports on stderr, exits the process.</summary>
    public static Interruption ForProcess() =>
        new(TimeProvider.System, TeardownBound, message => Console.Error.WriteLine(message), Environment.Exit);

    public CancellationToken Token => _cts.Token;

    /// <summary>The first signal received, if any.</summary>
    public PosixSignal? Received
    {
        get { lock (_gate) { return _received; } }
    }

    public void Register()
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            _registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                // Keep the process alive; Handle decides whether and when to exit.
                context.Cancel = true;
                Handle(context.Signal);
            }));
        }
    }

    public void Handle(PosixSignal signal)
    {
        PosixSignal first;
        bool isFirst;
        TimeSpan elapsed;
        lock (_gate)
        {
            isFirst = _received is null;
            if (isFirst)
            {
                _received = signal;
                _firstAt = time.GetTimestamp();
            }

            first = _received!.Value;
            elapsed = time.GetElapsedTime(_firstAt);
        }

        if (isFirst)
        {
            report($"Received {signal}: cancelling the running task; the teardown still runs.");
            _cts.Cancel();
            return;
        }

        if (elapsed < bound)
        {
            report($"Received {signal} again: the teardown is still running; it gets "
                + $"{Math.Ceiling((bound - elapsed).TotalSeconds):0} s more before another signal ends the process at once.");
            return;
        }

        report($"Received {signal} again, {elapsed.TotalSeconds:0} s after the first: exiting without waiting for the teardown.");
        exit(ExitCodes.For(first));
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _registrations.Clear();
        _cts.Dispose();
    }
}
