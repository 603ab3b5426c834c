namespace Build.Deployment;

/// <summary>
/// A connection to each server, opened as soon as the servers are known (FindServers), so that the handshake and
/// login overlap what the deploy does before its first step (its checks of the site, hashing, settings): the first
/// connect to each server takes the one opened early; retries and reconnects open their own. Opening one changes
/// nothing on a server, so a run that stops before it connects only closes them (<see cref="Dispose"/>).
/// </summary>
public sealed class EarlyConnections : IDisposable
{
    private readonly Dictionary<string, Task<ServerLink>> _opening = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly ConnectServer _connect;

    /// <summary>
    /// Starts connecting to every server (or takes the connection <paramref name="started"/> has opened to it already);
    /// each connect is bounded by <paramref name="connect"/>'s own timeout.
    /// </summary>
    public EarlyConnections(IEnumerable<DeployTarget> servers, ConnectServer connect, CancellationToken cancellationToken,
        Func<DeployTarget, Task<ServerLink>?>? started = null)
    {
        _connect = connect;
        foreach (var server in servers)
        {
            var opening = started?.Invoke(server) ?? Task.Run(() => connect(server, cancellationToken), cancellationToken);
            // Observed here: a failure is the first attempt's to report, or nobody's when no attempt comes.
            _ = opening.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            _opening[server.Name] = opening;
        }
    }

    /// <summary>Connects through the early connection of each server once, then as the early ones were opened.</summary>
    public async Task<ServerLink> ConnectAsync(DeployTarget server, CancellationToken cancellationToken)
    {
        Task<ServerLink>? early;
        lock (_gate) _opening.Remove(server.Name, out early);
        if (early is null) return await _connect(server, cancellationToken);
        try
        {
            return await early.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !early.IsCompleted)
        {
            // The attempt gave up waiting (its timeout, or the run was cancelled): the connection, if it still comes, is nobody's.
            CloseWhenDone(early);
            throw;
        }
    }

    /// <summary>Closes the connections no attempt took (the run stopped before its first connect).</summary>
    public void Dispose()
    {
        List<Task<ServerLink>> left;
        lock (_gate)
        {
            left = [.. _opening.Values];
            _opening.Clear();
        }
        foreach (var opening in left) CloseWhenDone(opening);
    }

    internal static void CloseWhenDone(Task<ServerLink> opening) =>
        _ = opening.ContinueWith(t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
}
