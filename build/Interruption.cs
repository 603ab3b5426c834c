using System.Runtime.InteropServices;

namespace Build;

/// <summary>
/// The cancellation every task observes. The host reports SIGINT/SIGTERM to every registered
/// <see cref="IObserver{PosixSignal}"/>; this one turns the first signal into a cancelled token.
/// A BCL interface is the contract so that build/Tasks does not depend on the host's own types.
/// </summary>
public sealed class Interruption : IObserver<PosixSignal>, IDisposable
{
    private readonly CancellationTokenSource _cts = new();

    public CancellationToken Token => _cts.Token;

    /// <summary>The host maps the signal to the exit code (130/143); here it only cancels.</summary>
    public void OnNext(PosixSignal value) => _cts.Cancel();

    public void OnCompleted() { }

    public void OnError(Exception error) { }

    public void Dispose() => _cts.Dispose();
}
