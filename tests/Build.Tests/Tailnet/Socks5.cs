using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Build.Tests.Tailnet;

/// <summary>A minimal SOCKS5 client (RFC 1928, no authentication, CONNECT by domain name) for the tests.</summary>
public static class Socks5
{
    public static async Task<TcpClient> ConnectAsync(DnsEndPoint proxy, string host, int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync(proxy.Host, proxy.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(new byte[] { 5, 1, 0 });
        var choice = new byte[2];
        await stream.ReadExactlyAsync(choice);
        if (choice[1] != 0) throw new IOException("SOCKS5 proxy refused no-auth");
        var name = Encoding.ASCII.GetBytes(host);
        var request = new byte[] { 5, 1, 0, 3, (byte)name.Length }.Concat(name).Concat(new[] { (byte)(port >> 8), (byte)port }).ToArray();
        await stream.WriteAsync(request);
        var reply = new byte[10];
        await stream.ReadExactlyAsync(reply);
        if (reply[1] != 0) throw new IOException($"SOCKS5 CONNECT failed with code {reply[1]}");
        return client;
    }
}
