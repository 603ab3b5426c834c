namespace Build.Deployment;

/// <summary>An open connection to one server: the shell the release protocol runs through, and what to close.</summary>
public sealed record ServerLink(IRemoteShell Shell, IDisposable Connection) : IDisposable
{
    public void Dispose() => Connection.Dispose();
}

/// <summary>Opens a connection to a server (SSH in production, a local shell in tests).</summary>
public delegate Task<ServerLink> ConnectServer(DeployTarget target, CancellationToken cancellationToken);
