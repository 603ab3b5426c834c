using Build.Deployment.Ssh;
using Build.Sandbox;
using Build.Settings;
using Build.Tailnet;

namespace Build.Deployment;

/// <summary>
/// SSH connections opened as the program starts, before the host has built its context and run FindServers, where the
/// command line and environment alone name the servers: <c>--hosts</c> with <c>--tailnet=off</c>, for a target that
/// connects. The handshakes (five round trips) then overlap the host's own start (~0.25 s) instead of following it.
/// FindServers takes a connection only when the servers and SSH settings it resolved are the same as these
/// (<see cref="Take"/>); anything else, and every failure, is left to FindServers and the deploy as without this.
/// </summary>
public sealed class StartupConnections : IDisposable
{
    private readonly Lock _gate = new();
    private Task _starting = Task.CompletedTask;
    private SshSettings? _ssh;
    private bool _disposed;
    private readonly Dictionary<string, (DeployTarget Target, Task<ServerLink> Opening)> _opening = new(StringComparer.Ordinal);

    /// <summary>Completes once the settings are read and the connections (if any) started.</summary>
    public Task Started => _starting;

    /// <summary>
    /// Starts connecting in the background when <paramref name="args"/> (and the environment and <c>deploy.json</c> in
    /// <paramref name="root"/>) name the servers; returns at once, never throws.
    /// </summary>
    public static StartupConnections Start(IReadOnlyList<string> args, string root, CancellationToken cancellationToken)
    {
        var connections = new StartupConnections();
        connections._starting = Task.Run(() => connections.Open(args, root, cancellationToken), cancellationToken);
        return connections;
    }

    private void Open(IReadOnlyList<string> args, string root, CancellationToken cancellationToken)
    {
        try
        {
            if (args.Any(a => a is "-w" or "--working" || a.StartsWith("--working=", StringComparison.OrdinalIgnoreCase))) return;
            if (!ConnectWarmUp.NamesConnectingTask(ConnectWarmUp.Targets(args))) return;
            var arguments = TaskArguments(args);
            var source = new SettingsSource(name => arguments[name].ToArray(), Environment.GetEnvironmentVariable, Path.Join(root, "deploy.json"), root);
            if (SandboxSettings.From(source).Enabled || TailnetSettings.From(source).Mode != TailnetMode.Off) return;
            var targets = ServerSelection.From(source).FromHosts();
            var ssh = SshSettings.From(source);
            var connect = Deployer.Connect(SshConnector.FromSettings(ssh));
            lock (_gate)
            {
                if (_disposed) return;
                _ssh = ssh;
                foreach (var target in targets)
                {
                    var opening = Task.Run(() => connect(target, cancellationToken), cancellationToken);
                    // Observed here: a failure is the deploy's to report, through a connection of its own.
                    _ = opening.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
                    _opening[target.Name] = (target, opening);
                }
            }
        }
        catch (Exception)
        {
            // Bad settings are the host's to report, with their exit code.
        }
    }

    /// <summary>
    /// The connection opening to <paramref name="target"/>, once, if it was started for the same server and the same SSH
    /// settings as FindServers resolved; null otherwise.
    /// </summary>
    public Task<ServerLink>? Take(DeployTarget target, SshSettings ssh)
    {
        // Settings resolve in milliseconds; FindServers comes a quarter of a second later. If not, no connection is taken.
        if (!_starting.IsCompleted) return null;
        lock (_gate)
        {
            if (ssh != _ssh || !_opening.Remove(target.Name, out var started)) return null;
            if (started.Target.Address == target.Address && started.Target.Port == target.Port) return started.Opening;
            EarlyConnections.CloseWhenDone(started.Opening);
            return null;
        }
    }

    /// <summary>Closes the connections nobody took.</summary>
    public void Dispose()
    {
        List<Task<ServerLink>> left;
        lock (_gate)
        {
            _disposed = true;
            left = [.. _opening.Values.Select(v => v.Opening)];
            _opening.Clear();
        }
        foreach (var opening in left) EarlyConnections.CloseWhenDone(opening);
    }

    /// <summary>
    /// The tasks' arguments as the host reads them: <c>--name=value</c>, <c>--name value</c>, a bare <c>--flag</c> (true).
    /// Read again by the host; a difference only costs a connection that is not taken.
    /// </summary>
    internal static ILookup<string, string> TaskArguments(IReadOnlyList<string> args)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        for (var i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || args[i].Length == 2) continue;
            var name = args[i][2..];
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0) pairs.Add(new(name[..equals], name[(equals + 1)..]));
            else if (i + 1 < args.Count && !args[i + 1].StartsWith('-')) pairs.Add(new(name, args[++i]));
            else pairs.Add(new(name, "true"));
        }
        return pairs.ToLookup(p => p.Key, p => p.Value, StringComparer.OrdinalIgnoreCase);
    }
}
