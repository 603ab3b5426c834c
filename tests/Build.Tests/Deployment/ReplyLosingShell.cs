using Build.Deployment;

namespace Build.Tests.Deployment;

/// <summary>Runs every command, but after <paramref name="script"/> has run the connection dies before its reply is read.</summary>
internal sealed class ReplyLosingShell(IRemoteShell inner, string script, Action cut) : IRemoteShell
{
    public async Task<RemoteResult> RunAsync(string command, IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task>? writeInput, CancellationToken cancellationToken)
    {
        var result = await inner.RunAsync(command, arguments, writeInput, cancellationToken);
        if (command != script) return result;
        cut();
        throw new IOException("connection lost before the reply (simulated)");
    }
}
