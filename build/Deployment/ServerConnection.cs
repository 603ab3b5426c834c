using Build.Deployment.Progress;
using Build.Deployment.Release;

namespace Build.Deployment;

/// <summary>What every server of one fan-out shares: how to connect, who deploys, how sessions and retries behave.</summary>
internal sealed record ServerSetup(ConnectServer Connect, ReleaseRun Run, ReleaseOptions Release, FanOutOptions Options, IDeployProgress Progress, TimeProvider Time,
    Health.HealthGate? Health = null)
{
    /// <summary>Servers with the same plan share one upload stream, produced once (<see cref="SharedUpload"/>).</summary>
    public SharedUploads Uploads { get; } = new();
}

/// <summary>
/// One server's connection and session, opened when a step needs it, with the retry pipeline around each step:
/// a failed attempt drops the connection, so the next one starts on a fresh connection.
/// </summary>
internal sealed class ServerConnection(DeployTarget target, RemoteRoot root, ServerSetup setup) : IDisposable
{
    private ServerLink? _link;

    public DeployTarget Target { get; } = target;

    public RemoteRoot Root { get; } = root;

    public string Address => Target.Port is { } p ? $"{Target.Address}:{p}" : Target.Address;

    /// <summary>The open session, null when no connection is open.</summary>
    public ReleaseSession? Session { get; private set; }

    public async Task<ReleaseSession> OpenAsync(CancellationToken cancellationToken)
    {
        if (Session is { } open) return open;
        setup.Progress.Phase(Target.Name, DeployPhase.Connect, Address);
        var link = await setup.Connect(Target, cancellationToken);
        _link = link;
        Session = new ReleaseSession(link.Shell, Root, setup.Run, setup.Release, setup.Time, Target.Name, setup.Uploads);
        return Session;
    }

    /// <summary>Runs <paramref name="step"/> with retries for transient failures (<see cref="Retries"/>).</summary>
    public async Task RetryAsync(Func<CancellationToken, Task> step, CancellationToken cancellationToken)
    {
        var options = setup.Options;
        var pipeline = Retries.Create(options.Attempts, options.RetryDelay, options.AttemptTimeout, setup.Time,
            message => setup.Progress.Phase(Target.Name, DeployPhase.Retry, message));
        await pipeline.ExecuteAsync(async token =>
        {
            try
            {
                await step(token);
            }
            catch
            {
                Drop();
                throw;
            }
        }, cancellationToken);
    }

    public void Drop()
    {
        // The lock's heartbeat stops with the connection it runs over.
        Session?.Dispose();
        _link?.Dispose();
        _link = null;
        Session = null;
    }

    public void Dispose() => Drop();
}
