using System.Net;
using System.Net.Sockets;

namespace Build.Sandbox;

/// <summary>Free loopback ports: the one asked for when it is still free, else one the system hands out.</summary>
public static class Ports
{
    public static bool IsFree(string address, int port)
    {
        try
        {
            using var probe = new TcpListener(IPAddress.Parse(address), port);
            probe.Start();
            probe.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// A port free on every one of <paramref name="addresses"/> and not in <paramref name="excluded"/>:
    /// <paramref name="preferred"/> if it still is (so URLs stay the same from run to run), else another.
    /// </summary>
    public static int Choose(IReadOnlyList<string> addresses, int? preferred, ISet<int> excluded, Action<string> log, string what)
    {
        if (preferred is { } p and > 0 && !excluded.Contains(p))
        {
            if (addresses.All(a => IsFree(a, p))) return p;
            log($"{what}: port {p} is taken by another program; picking another.");
        }
        for (var i = 0; i < 100; i++)
        {
            using var probe = new TcpListener(IPAddress.Parse(addresses[0]), 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            if (!excluded.Contains(port) && addresses.Skip(1).All(a => IsFree(a, port))) return port;
        }
        throw new PipelineException($"No free port on {string.Join(", ", addresses)}.");
    }
}
