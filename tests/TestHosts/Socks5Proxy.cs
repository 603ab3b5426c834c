using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TestHosts;

/// <summary>
/// A minimal SOCKS5 server (RFC 1928, no authentication, CONNECT only) on 127.0.0.1:&lt;free port&gt;,
/// standing in for tailscaled's userspace-networking proxy: names are resolved here through
/// <see cref="Names"/> (like MagicDNS), never by the client. Records each requested destination.
/// </summary>
public sealed class Socks5Proxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly ConcurrentQueue<string> _requests = new();

    public Socks5Proxy()
    {
        _listener.Start();
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _loop = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>Host names this proxy resolves (case-insensitive) to addresses; others are refused.</summary>
    public ConcurrentDictionary<string, IPAddress> Names { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Each CONNECT request as "host:port", in order.</summary>
    public IReadOnlyCollection<string> Requests => _requests;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try { await _loop; }
        catch (OperationCanceledException) { }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptSocketAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        var token = _stop.Token;
        try
        {
            // Greeting: VER NMETHODS METHODS...; answer "no authentication".
            var head = await ReadAsync(client, 2, token);
            if (head[0] != 5) return;
            var methods = await ReadAsync(client, head[1], token);
            if (!methods.Contains((byte)0))
            {
                await client.SendAsync(new byte[] { 5, 0xFF }, token);
                return;
            }
            await client.SendAsync(new byte[] { 5, 0 }, token);

            // Request: VER CMD RSV ATYP DST.ADDR DST.PORT
            var request = await ReadAsync(client, 4, token);
            string host;
            switch (request[3])
            {
                case 1: host = new IPAddress(await ReadAsync(client, 4, token)).ToString(); break;
                case 4: host = new IPAddress(await ReadAsync(client, 16, token)).ToString(); break;
                case 3:
                    var length = (await ReadAsync(client, 1, token))[0];
                    host = Encoding.ASCII.GetString(await ReadAsync(client, length, token));
                    break;
                default: await ReplyAsync(client, 8, token); return;
            }
            var portBytes = await ReadAsync(client, 2, token);
            var port = (portBytes[0] << 8) | portBytes[1];
            _requests.Enqueue($"{host}:{port}");
            if (request[1] != 1) { await ReplyAsync(client, 7, token); return; } // CONNECT only

            IPAddress? address = Names.TryGetValue(host, out var mapped) ? mapped : IPAddress.TryParse(host, out var literal) ? literal : null;
            if (address is null) { await ReplyAsync(client, 4, token); return; } // host unreachable

            using var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try { await server.ConnectAsync(address, port, token); }
            catch (SocketException) { await ReplyAsync(client, 5, token); return; } // connection refused
            await ReplyAsync(client, 0, token);
            await Task.WhenAny(CopyAsync(client, server, token), CopyAsync(server, client, token));
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or EndOfStreamException)
        {
        }
    }

    private static async Task ReplyAsync(Socket client, byte status, CancellationToken token) =>
        await client.SendAsync(new byte[] { 5, status, 0, 1, 0, 0, 0, 0, 0, 0 }, token);

    private static async Task CopyAsync(Socket from, Socket to, CancellationToken token)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int n;
            while ((n = await from.ReceiveAsync(buffer, SocketFlags.None, token)) > 0)
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, token);
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
    }

    private static async Task<byte[]> ReadAsync(Socket socket, int count, CancellationToken token)
    {
        var buffer = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, token);
            if (n == 0) throw new EndOfStreamException();
            read += n;
        }
        return buffer;
    }
}
