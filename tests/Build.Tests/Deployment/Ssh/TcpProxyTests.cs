using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TestHosts;
using Xunit.Abstractions;

namespace Build.Tests.Deployment.Ssh;

public sealed class TcpProxyTests(ITestOutputHelper output)
{
    private static CancellationToken Timeout(int seconds = 30) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    /// <summary>A real TCP server on 127.0.0.1 that runs <paramref name="handle"/> for each connection.</summary>
    private sealed class Target : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Task _loop;

        public Target(Func<Socket, Task> handle)
        {
            _listener.Start();
            _loop = Task.Run(async () =>
            {
                while (true)
                {
                    Socket socket;
                    try { socket = await _listener.AcceptSocketAsync(); }
                    catch (Exception) { return; }
                    _ = Task.Run(async () =>
                    {
                        try { await handle(socket); }
                        catch (SocketException) { }
                        finally { socket.Dispose(); }
                    });
                }
            });
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await _loop;
        }
    }

    private static async Task Echo(Socket socket)
    {
        var buffer = new byte[65536];
        int n;
        while ((n = await socket.ReceiveAsync(buffer)) > 0)
            await socket.SendAsync(buffer.AsMemory(0, n));
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint);
        return socket;
    }

    private static async Task<int> ReceiveExactlyAsync(Socket socket, int count, CancellationToken ct)
    {
        var buffer = new byte[65536];
        var total = 0;
        while (total < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(0, Math.Min(buffer.Length, count - total)), SocketFlags.None, ct);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    [Fact]
    public async Task Delay_is_a_latency_added_each_way_and_pipelined_data_is_not_serialised()
    {
        await using var target = new Target(Echo);
        await using var proxy = new TcpProxy(target.EndPoint, oneWayDelay: TimeSpan.FromMilliseconds(50));
        using var socket = await ConnectAsync(proxy.EndPoint);

        var watch = Stopwatch.StartNew();
        await socket.SendAsync(new byte[] { 1 });
        Assert.Equal(1, await ReceiveExactlyAsync(socket, 1, Timeout()));
        var roundTrip = watch.Elapsed;

        // 20 separate writes back to back: one round trip for all of them, not 20.
        watch.Restart();
        for (var i = 0; i < 20; i++) await socket.SendAsync(new byte[1000]);
        Assert.Equal(20_000, await ReceiveExactlyAsync(socket, 20_000, Timeout()));
        var pipelined = watch.Elapsed;

        output.WriteLine($"round trip {roundTrip.TotalMilliseconds:0} ms, 20 pipelined writes {pipelined.TotalMilliseconds:0} ms");
        Assert.InRange(roundTrip, TimeSpan.FromMilliseconds(95), TimeSpan.FromMilliseconds(1000));
        Assert.InRange(pipelined, TimeSpan.FromMilliseconds(95), TimeSpan.FromMilliseconds(1000));
    }

    [Fact]
    public async Task Byte_counts_are_exact_in_each_direction_and_connections_are_counted()
    {
        const int up = 1_049_810, down = 4321;
        var received = new TaskCompletionSource<int>();
        await using var target = new Target(async socket =>
        {
            // Read to EOF, then answer.
            var total = 0;
            var buffer = new byte[65536];
            int n;
            while ((n = await socket.ReceiveAsync(buffer)) > 0) total += n;
            received.TrySetResult(total);
            await socket.SendAsync(new byte[down]);
            socket.Shutdown(SocketShutdown.Send);
        });
        await using var proxy = new TcpProxy(target.EndPoint, oneWayDelay: TimeSpan.FromMilliseconds(5));
        using var socket = await ConnectAsync(proxy.EndPoint);
        await socket.SendAsync(new byte[up]);
        socket.Shutdown(SocketShutdown.Send);
        Assert.Equal(down, await ReceiveExactlyAsync(socket, down + 1, Timeout()));
        Assert.Equal(up, await received.Task.WaitAsync(Timeout()));
        Assert.Equal(up, proxy.BytesUpstream);
        Assert.Equal(down, proxy.BytesDownstream);
        Assert.Equal(1, proxy.Connections);
    }

    [Fact]
    public async Task Cut_resets_the_connection_after_exactly_n_bytes_once()
    {
        var counts = new System.Collections.Concurrent.ConcurrentQueue<int>();
        var finished = new SemaphoreSlim(0);
        await using var target = new Target(async socket =>
        {
            var total = 0;
            var buffer = new byte[65536];
            try
            {
                int n;
                while ((n = await socket.ReceiveAsync(buffer)) > 0) total += n;
            }
            catch (SocketException) { /* reset by the proxy */ }
            counts.Enqueue(total);
            finished.Release();
        });
        await using var proxy = new TcpProxy(target.EndPoint);
        var cut = proxy.CutOnceAfter(1000);

        using (var socket = await ConnectAsync(proxy.EndPoint))
        {
            await socket.SendAsync(new byte[5000]);
            await cut.WaitAsync(Timeout());
            // The client sees the reset: reading ends with an error or end of stream, never data.
            var buffer = new byte[10];
            try { Assert.Equal(0, await socket.ReceiveAsync(buffer, SocketFlags.None, Timeout())); }
            catch (SocketException e) { Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode); }
        }
        Assert.True(await finished.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1000, Assert.Single(counts));
        Assert.Equal(1, proxy.Cuts);

        // Once only: the next connection passes everything.
        using (var socket = await ConnectAsync(proxy.EndPoint))
        {
            await socket.SendAsync(new byte[5000]);
            socket.Shutdown(SocketShutdown.Send);
            Assert.True(await finished.WaitAsync(TimeSpan.FromSeconds(10)));
        }
        Assert.Equal([1000, 5000], counts);
        Assert.Equal(1, proxy.Cuts);
        Assert.Equal(2, proxy.Connections);
    }

    [Fact]
    public async Task Bandwidth_cap_slows_a_bulk_transfer()
    {
        await using var target = new Target(Echo);
        await using var proxy = new TcpProxy(target.EndPoint, bytesPerSecond: 1_000_000);
        using var socket = await ConnectAsync(proxy.EndPoint);
        var watch = Stopwatch.StartNew();
        var send = socket.SendAsync(new byte[400_000]);
        Assert.Equal(400_000, await ReceiveExactlyAsync(socket, 400_000, Timeout()));
        await send;
        output.WriteLine($"400 kB at 1 MB/s each way: {watch.Elapsed.TotalMilliseconds:0} ms");
        // 0.4 s upstream; downstream overlaps it (pipelined), so about 0.4 s in all.
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(350), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_shared_uplink_carries_the_upstream_of_every_proxy_on_it_in_turn()
    {
        // Upstream only reaches the target: it counts what arrives (echo would put the downstream on the clock too).
        await using var target = new Target(async socket =>
        {
            var buffer = new byte[65536];
            while (await socket.ReceiveAsync(buffer) > 0) { }
        });
        var link = new SharedLink(1_000_000);
        await using var one = new TcpProxy(target.EndPoint) { Uplink = link };
        await using var two = new TcpProxy(target.EndPoint) { Uplink = link };
        using var a = await ConnectAsync(one.EndPoint);
        using var b = await ConnectAsync(two.EndPoint);
        var watch = Stopwatch.StartNew();

        await Task.WhenAll(a.SendAsync(new byte[300_000]), b.SendAsync(new byte[300_000]));
        var deadline = Timeout();
        while (one.BytesUpstream + two.BytesUpstream < 600_000) await Task.Delay(10, deadline);

        output.WriteLine($"2 x 300 kB through one 1 MB/s link: {watch.Elapsed.TotalMilliseconds:0} ms");
        // Each alone would take 0.3 s; sharing the link, both need 0.6 s, whatever the machine's load.
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(550), $"took {watch.Elapsed}");
    }

    [Fact]
    public void A_shared_link_books_each_chunk_after_the_one_before()
    {
        var link = new SharedLink(1000);
        var second = Stopwatch.Frequency;

        Assert.Equal(0, link.Reserve(0, 500));                  // free: goes at once
        Assert.Equal(second / 2, link.Reserve(0, 1000));        // after the first 500 bytes (0.5 s)
        Assert.Equal(10 * second, link.Reserve(10 * second, 1)); // the link was idle by then
        Assert.Throws<ArgumentOutOfRangeException>(() => new SharedLink(0));
    }

    [Fact]
    public async Task CutAll_resets_open_connections()
    {
        await using var target = new Target(Echo);
        await using var proxy = new TcpProxy(target.EndPoint);
        using var socket = await ConnectAsync(proxy.EndPoint);
        await socket.SendAsync(new byte[] { 1 });
        Assert.Equal(1, await ReceiveExactlyAsync(socket, 1, Timeout()));
        proxy.CutAll();
        var buffer = new byte[1];
        try { Assert.Equal(0, await socket.ReceiveAsync(buffer, SocketFlags.None, Timeout())); }
        catch (SocketException e) { Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode); }
        Assert.Equal(1, proxy.Cuts);
    }
}
