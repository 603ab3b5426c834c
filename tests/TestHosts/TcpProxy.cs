using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace TestHosts;

public enum ProxyDirection
{
    /// <summary>Client to target.</summary>
    Upstream,

    /// <summary>Target to client.</summary>
    Downstream,
}

/// <summary>
/// A TCP forwarder on 127.0.0.1:&lt;free port&gt; to a target, for tests and the benchmark. Adds a
/// one-way delay in each direction (a latency: data in flight is pipelined, each chunk is held
/// until its own arrival time plus the delay, chunks are never serialised behind each other's
/// delay), an optional bandwidth cap, exact byte counts per direction, a connection count, and a
/// one-shot cut: after N more bytes in one direction the carrying connection is reset.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly EndPoint _target;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<int, Connection> _open = new();
    private readonly Task _acceptLoop;
    private readonly object _cutLock = new();
    private long _cutRemaining = -1;
    private ProxyDirection _cutDirection;
    private TaskCompletionSource _cutDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _upstream;
    private long _downstream;
    private int _connections;
    private int _cuts;
    private int _nextId;
    private TaskCompletionSource _flowing = Completed();
    private readonly List<(long Bytes, TaskCompletionSource Reached)> _upstreamMarks = [];

    /// <param name="target">Where to forward to.</param>
    /// <param name="oneWayDelay">Added in each direction: the round trip grows by twice this.</param>
    /// <param name="bytesPerSecond">Bandwidth cap per direction per connection; null for none.</param>
    public TcpProxy(EndPoint target, TimeSpan oneWayDelay = default, long? bytesPerSecond = null)
    {
        _target = target;
        OneWayDelay = oneWayDelay;
        BytesPerSecond = bytesPerSecond;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(512);
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint { get; }
    public string Address => EndPoint.Address.ToString();
    public int Port => EndPoint.Port;

    /// <summary>Delay added to each direction; may be changed while running (applies to data read afterwards).</summary>
    public TimeSpan OneWayDelay { get; set; }

    public long? BytesPerSecond { get; set; }

    /// <summary>When set, data towards the target (upstream) also queues on this link, shared with other proxies; null for none.</summary>
    public SharedLink? Uplink { get; set; }

    /// <summary>Bytes forwarded from clients to the target.</summary>
    public long BytesUpstream => Interlocked.Read(ref _upstream);

    /// <summary>Bytes forwarded from the target to clients.</summary>
    public long BytesDownstream => Interlocked.Read(ref _downstream);

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public int OpenConnections => _open.Count;

    /// <summary>Connections cut so far (by <see cref="CutOnceAfter"/> or <see cref="CutAll"/>).</summary>
    public int Cuts => Volatile.Read(ref _cuts);

    /// <summary>
    /// Arms a one-shot cut: after <paramref name="bytes"/> more bytes in <paramref name="direction"/>
    /// (counted over all connections from now), the connection carrying the last of them is reset,
    /// having forwarded exactly those bytes. Returns a task that completes at the cut.
    /// </summary>
    public Task CutOnceAfter(long bytes, ProxyDirection direction = ProxyDirection.Upstream)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_cutLock)
        {
            if (_cutDone.Task.IsCompleted) _cutDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _cutRemaining = bytes;
            _cutDirection = direction;
            return _cutDone.Task;
        }
    }

    /// <summary>
    /// Holds what is sent from now on, both ways, until <see cref="Resume"/>: a stalled link whose connections stay open.
    /// A test pauses at an observable point instead of hoping a transfer is still running.
    /// </summary>
    public void Pause()
    {
        lock (_cutLock)
            if (_flowing.Task.IsCompleted) _flowing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Resume()
    {
        lock (_cutLock) _flowing.TrySetResult();
    }

    /// <summary>Completes once <see cref="BytesUpstream"/> has reached <paramref name="bytes"/>: a marker to wait on.</summary>
    public Task UpstreamReached(long bytes)
    {
        lock (_upstreamMarks)
        {
            if (BytesUpstream >= bytes) return Task.CompletedTask;
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _upstreamMarks.Add((bytes, reached));
            return reached.Task;
        }
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }

    private void Counted(ProxyDirection direction, long length)
    {
        var total = Interlocked.Add(ref direction == ProxyDirection.Upstream ? ref _upstream : ref _downstream, length);
        if (direction != ProxyDirection.Upstream) return;
        lock (_upstreamMarks)
        {
            foreach (var mark in _upstreamMarks.Where(m => m.Bytes <= total).ToList())
            {
                mark.Reached.TrySetResult();
                _upstreamMarks.Remove(mark);
            }
        }
    }

    /// <summary>Resets every open connection now (a network drop).</summary>
    public void CutAll()
    {
        foreach (var connection in _open.Values)
        {
            Interlocked.Increment(ref _cuts);
            connection.Abort();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var connection in _open.Values) connection.Abort();
        try { await _acceptLoop; }
        catch (OperationCanceledException) { }
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptSocketAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            Interlocked.Increment(ref _connections);
            _ = HandleAsync(client);
        }
    }

    private async Task HandleAsync(Socket client)
    {
        var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        var connection = new Connection(Interlocked.Increment(ref _nextId), client, server);
        _open[connection.Id] = connection;
        try
        {
            await server.ConnectAsync(_target, _stop.Token);
            await Task.WhenAll(
                PumpAsync(connection, client, server, ProxyDirection.Upstream),
                PumpAsync(connection, server, client, ProxyDirection.Downstream));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException or ChannelClosedException)
        {
            // The target refused or the connection died: the client sees a reset.
        }
        finally
        {
            _open.TryRemove(connection.Id, out _);
            connection.Abort();
        }
    }

    private async Task PumpAsync(Connection connection, Socket from, Socket to, ProxyDirection direction)
    {
        // Bounded so a slow receiver pushes back on the sender, as a real link's buffers would.
        var queue = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(256) { SingleReader = true, SingleWriter = true });
        var token = connection.Token;

        async Task ReadAsync()
        {
            try
            {
                while (true)
                {
                    var buffer = new byte[64 * 1024];
                    var n = await from.ReceiveAsync(buffer, SocketFlags.None, token);
                    await queue.Writer.WriteAsync(new Chunk(buffer, n, Stopwatch.GetTimestamp() + Ticks(OneWayDelay)), token);
                    if (n == 0) break;
                }
                queue.Writer.TryComplete();
            }
            catch (Exception e)
            {
                queue.Writer.TryComplete(e);
                connection.Abort();
            }
        }

        async Task WriteAsync()
        {
            long nextFree = 0; // bandwidth cap: when the link is free again
            await foreach (var chunk in queue.Reader.ReadAllAsync(token))
            {
                var sendAt = chunk.Due;
                if (BytesPerSecond is { } bps && bps > 0 && chunk.Length > 0)
                {
                    sendAt = Math.Max(sendAt, nextFree);
                    nextFree = sendAt + Stopwatch.Frequency * chunk.Length / bps;
                }
                if (direction == ProxyDirection.Upstream && Uplink is { } uplink && chunk.Length > 0)
                {
                    // Booked when this connection is ready to send: connections sharing the link take turns.
                    sendAt = uplink.Reserve(Math.Max(sendAt, Stopwatch.GetTimestamp()), chunk.Length);
                }
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), sendAt);
                if (wait > TimeSpan.Zero) await Task.Delay(wait, token);
                Task flowing;
                lock (_cutLock) flowing = _flowing.Task;
                await flowing.WaitAsync(token);

                if (chunk.Length == 0)
                {
                    to.Shutdown(SocketShutdown.Send); // pass the EOF on, after the same delay
                    return;
                }
                var length = chunk.Length;
                var cut = TakeCut(direction, ref length);
                if (length > 0) await to.SendAsync(chunk.Buffer.AsMemory(0, length), SocketFlags.None, token);
                Counted(direction, length);
                if (cut)
                {
                    Interlocked.Increment(ref _cuts);
                    connection.Abort();
                    lock (_cutLock) _cutDone.TrySetResult();
                    return;
                }
            }
        }

        await Task.WhenAll(ReadAsync(), WriteAsync());
    }

    // Decides whether this chunk crosses the armed cut; if so, shortens it to the bytes still allowed.
    private bool TakeCut(ProxyDirection direction, ref int length)
    {
        lock (_cutLock)
        {
            if (_cutRemaining < 0 || _cutDirection != direction) return false;
            if (length < _cutRemaining)
            {
                _cutRemaining -= length;
                return false;
            }
            length = (int)_cutRemaining;
            _cutRemaining = -1;
            return true;
        }
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private readonly record struct Chunk(byte[] Buffer, int Length, long Due);

    private sealed class Connection(int id, Socket client, Socket server)
    {
        private readonly CancellationTokenSource _cancel = new();
        private int _aborted;

        public int Id { get; } = id;
        public CancellationToken Token => _cancel.Token;

        /// <summary>Resets both sides (RST, not FIN): what a dropped network path looks like to SSH.</summary>
        public void Abort()
        {
            if (Interlocked.Exchange(ref _aborted, 1) == 1) return;
            foreach (var socket in new[] { client, server })
            {
                try
                {
                    socket.LingerState = new LingerOption(true, 0);
                    socket.Close();
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            }
            _cancel.Cancel();
        }
    }
}
