using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace TailnetSim;

/// <summary>
/// A real SOCKS5 relay (RFC 1928: no authentication, CONNECT; IPv4, IPv6 and domain names), as
/// tailscaled runs with <c>--socks5-server</c> in userspace networking mode.
/// </summary>
internal sealed class Socks5Relay(IPEndPoint endpoint)
{
    private readonly TcpListener _listener = new(endpoint);

    public void Start(CancellationToken cancellationToken)
    {
        _listener.Start();
        _ = Task.Run(async () =>
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(cancellationToken);
                }
                catch (Exception)
                {
                    return;
                }
                _ = Task.Run(() => ServeAsync(client, cancellationToken), cancellationToken);
            }
        }, cancellationToken);
    }

    public void Stop() => _listener.Stop();

    private static async Task ServeAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using var _ = client;
        var stream = client.GetStream();
        try
        {
            var head = await ReadExactlyAsync(stream, 2, cancellationToken);
            if (head[0] != 5) return;
            var methods = await ReadExactlyAsync(stream, head[1], cancellationToken);
            if (!methods.Contains((byte)0))
            {
                await stream.WriteAsync(new byte[] { 5, 0xFF }, cancellationToken);
                return;
            }
            await stream.WriteAsync(new byte[] { 5, 0 }, cancellationToken);

            var request = await ReadExactlyAsync(stream, 4, cancellationToken);
            if (request[0] != 5 || request[1] != 1)
            {
                await ReplyAsync(stream, 7, cancellationToken); // command not supported
                return;
            }
            string host = request[3] switch
            {
                1 => new IPAddress(await ReadExactlyAsync(stream, 4, cancellationToken)).ToString(),
                4 => new IPAddress(await ReadExactlyAsync(stream, 16, cancellationToken)).ToString(),
                3 => Encoding.ASCII.GetString(await ReadExactlyAsync(stream, (await ReadExactlyAsync(stream, 1, cancellationToken))[0], cancellationToken)),
                _ => "",
            };
            var portBytes = await ReadExactlyAsync(stream, 2, cancellationToken);
            var port = portBytes[0] << 8 | portBytes[1];
            if (host.Length == 0)
            {
                await ReplyAsync(stream, 8, cancellationToken); // address type not supported
                return;
            }

            using var upstream = new TcpClient();
            try
            {
                await upstream.ConnectAsync(host, port, cancellationToken);
            }
            catch (SocketException)
            {
                Record.Write("socks-connect", new JsonObject { ["target"] = $"{host}:{port}", ["ok"] = false });
                await ReplyAsync(stream, 5, cancellationToken); // connection refused
                return;
            }
            Record.Write("socks-connect", new JsonObject { ["target"] = $"{host}:{port}", ["ok"] = true });
            await ReplyAsync(stream, 0, cancellationToken);
            var remote = upstream.GetStream();
            var up = CopyAsync(stream, remote, upstream.Client, cancellationToken);
            var down = CopyAsync(remote, stream, client.Client, cancellationToken);
            await Task.WhenAll(up, down);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or EndOfStreamException)
        {
        }
    }

    private static async Task CopyAsync(Stream from, Stream to, Socket toSocket, CancellationToken cancellationToken)
    {
        try
        {
            await from.CopyToAsync(to, cancellationToken);
            toSocket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private static Task ReplyAsync(Stream stream, byte code, CancellationToken cancellationToken) =>
        stream.WriteAsync(new byte[] { 5, code, 0, 1, 0, 0, 0, 0, 0, 0 }, cancellationToken).AsTask();

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count, CancellationToken cancellationToken)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer, cancellationToken);
        return buffer;
    }
}
