using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Cryptography;
using Build.Resilience;
using Build.Settings;
using Renci.SshNet;

namespace Build.Deployment.Ssh;

/// <summary>
/// The one-time initialisation a deploy would otherwise pay on its critical path: before its first SSH connect sends a
/// byte (the socket engine and its name resolution, OpenSSL, SSH.NET's algorithm tables and logging, Polly's validation
/// of the retry options: about 70 ms of a 1.4 s deploy, measured from the outside), and after its last switch (the
/// reports' JSON and XML writers: about 25 ms). Done on the spare core while the host starts, for the runs whose
/// targets connect, after the connections opened at start-up (<see cref="StartupConnections"/>, which pay part of it
/// themselves), so that a connect FindServers opens waits only for the network.
/// </summary>
public static class ConnectWarmUp
{
    /// <summary>
    /// Starts warming up in the background when <paramref name="args"/> name a target that connects, once
    /// <paramref name="after"/> (the connections opened as the program starts) is done with the spare core.
    /// </summary>
    public static void StartFor(IReadOnlyList<string> args, Task after) => _ = Task.Run(async () =>
    {
        try
        {
            await after;
            if (!Connects(Targets(args))) return;
            await WarmUpAsync();
        }
        catch (Exception)
        {
            // Only a head start: the connect does all of this again and reports what fails.
        }
    });

    /// <summary>Whether running <paramref name="targets"/> runs a task that connects (<see cref="BuildContext.ConnectingTasks"/>).</summary>
    public static bool Connects(IReadOnlyList<string> targets) =>
        SettingsGroups.TasksRun(targets, typeof(BuildContext).Assembly).Overlaps(BuildContext.ConnectingTasks);

    /// <summary>Whether one of <paramref name="targets"/> is itself a task that connects: no walk of the task graph.</summary>
    public static bool NamesConnectingTask(IReadOnlyList<string> targets) =>
        BuildContext.ConnectingTasks.Select(t => t.GetCustomAttribute<Cake.Frosting.TaskNameAttribute>()?.Name)
            .Any(name => targets.Contains(name, StringComparer.OrdinalIgnoreCase));

    /// <summary>The targets a command line names (<c>--target=X</c>, <c>--target X</c>, <c>-t X</c>), Default when none.</summary>
    public static IReadOnlyList<string> Targets(IReadOnlyList<string> args)
    {
        var targets = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            foreach (var name in (ReadOnlySpan<string>)["--target", "-t"])
            {
                if (arg.StartsWith(name + "=", StringComparison.OrdinalIgnoreCase)) targets.Add(arg[(name.Length + 1)..]);
                else if (arg.Equals(name, StringComparison.OrdinalIgnoreCase) && i + 1 < args.Count) targets.Add(args[++i]);
            }
        }
        return targets.Count > 0 ? targets : ["Default"];
    }

    private static async Task WarmUpAsync()
    {
        RandomNumberGenerator.GetBytes(16);
        SHA256.HashData(ReadOnlySpan<byte>.Empty);
        using (new AesGcm(new byte[16], 16)) { }
        using (new SshClient(new ConnectionInfo("127.0.0.1", 22, "warm-up", new NoneAuthenticationMethod("warm-up")))) { }
        RetryPipeline.Create(new RetryPolicy { Attempts = 2, Delay = TimeSpan.FromSeconds(1), AttemptTimeout = TimeSpan.FromSeconds(1), ShouldRetry = _ => false }, TimeProvider.System);
        // A connection to itself, by a host name endpoint as SSH.NET connects: nothing leaves the process.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await socket.ConnectAsync(new DnsEndPoint("127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port), bound.Token);
        using var accepted = await listener.AcceptAsync(bound.Token);
        new Reports.DeployReport { Operation = "warm-up", StartedAt = DateTimeOffset.UnixEpoch }.Render();
        new Progress.PhaseTimes(null, null, null, null, null, null, null, null).ToJson();
    }
}
