using System.Runtime.InteropServices;

namespace Cake.Frosting.Internal;

/// <summary>
/// Turns SIGINT/SIGTERM into cancellation instead of death: the first signal is reported to every
/// <see cref="IObserver{PosixSignal}"/> registered in DI (the pipeline cancels its token there) and the
/// process keeps running so that the engine's teardown can finish. Further signals are ignored until
/// <see cref="TeardownBound"/> has passed since the first; after that one more exits at once.
/// </summary>
internal sealed class SignalRelay(
    IReadOnlyList<IObserver<PosixSignal>> observers,
    TimeProvider time,
    TimeSpan bound,
    Action<string> report,
    Action<int> exit) : IDisposable
{
    public static readonly TimeSpan TeardownBound = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private readonly List<PosixSignalRegistration> _registrations = [];
    private long _firstAt;
    private PosixSignal? _received;

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

    internal void Handle(PosixSignal signal)
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
            report($"Received {Name(signal)}: cancelling the running task; the teardown still runs.");
            foreach (var observer in observers)
            {
                try
                {
                    observer.OnNext(signal);
                }
                catch (Exception exception)
                {
                    // One failing observer must not keep the others from hearing about the signal.
                    report($"A signal observer ({observer.GetType().Name}) failed: {exception.Message}");
                }
            }

            return;
        }

        if (elapsed < bound)
        {
            report($"Received {Name(signal)} again: the teardown is still running; it gets "
                + $"{Math.Ceiling((bound - elapsed).TotalSeconds):0} s more before another signal ends the process at once.");
            return;
        }

        report($"Received {Name(signal)} again, {elapsed.TotalSeconds:0} s after the first: exiting without waiting for the teardown.");
        exit(ExitCodeFor(first));
    }

    /// <summary>128 + the signal number, as a shell reports a process killed by that signal.</summary>
    public static int ExitCodeFor(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGINT => 130,
        PosixSignal.SIGTERM => 143,
        _ => throw new ArgumentOutOfRangeException(nameof(signal), signal, "Only SIGINT and SIGTERM are handled."),
    };

    private static string Name(PosixSignal signal) => signal.ToString();

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _registrations.Clear();
    }
}
