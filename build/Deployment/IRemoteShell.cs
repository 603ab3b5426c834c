namespace Build.Deployment;

/// <summary>The result of one remote script run.</summary>
public sealed record RemoteResult(int ExitStatus, string Output, string Error)
{
    public bool Succeeded => ExitStatus == 0;
}

/// <summary>
/// Runs a POSIX <c>sh</c> script on a server as <c>sh -c SCRIPT sh ARG...</c> (never through the
/// login shell's own syntax), optionally streaming stdin. Over SSH in production; a local
/// <c>sh</c>/<c>busybox sh</c> process in tests of the remote protocol.
/// Arguments are validated values (remote root, release ids); file names never go here, only into tar entries.
/// </summary>
public interface IRemoteShell
{
    Task<RemoteResult> RunAsync(
        string script,
        IReadOnlyList<string> arguments,
        Func<Stream, CancellationToken, Task>? writeInput,
        CancellationToken cancellationToken);
}

/// <summary>
/// The server refused another channel on the connection (sshd's <c>MaxSessions</c>): the command never started.
/// Commands started ahead give way when they meet it (<see cref="Release.PendingCommand"/>).
/// </summary>
public sealed class ChannelRefusedException(string message, Exception? inner = null) : IOException(message, inner);
