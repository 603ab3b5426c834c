using System.Diagnostics;

namespace TestHosts;

/// <summary>
/// One link several proxies (and all their connections) send through, as a home uplink or a relayed
/// tailnet path is shared by every server a deploy talks to: chunks take turns at
/// <see cref="BytesPerSecond"/>, in the order they are ready.
/// </summary>
public sealed class SharedLink(long bytesPerSecond)
{
    private readonly object _gate = new();
    private long _nextFree;

    public long BytesPerSecond { get; } = bytesPerSecond > 0 ? bytesPerSecond : throw new ArgumentOutOfRangeException(nameof(bytesPerSecond));

    /// <summary>Books <paramref name="length"/> bytes on the link no earlier than <paramref name="earliest"/> (a Stopwatch timestamp); returns when they may go.</summary>
    public long Reserve(long earliest, int length)
    {
        lock (_gate)
        {
            var at = Math.Max(earliest, _nextFree);
            _nextFree = at + Stopwatch.Frequency * length / BytesPerSecond;
            return at;
        }
    }
}
