using System.Text;
using Renci.SshNet;

namespace Build.Deployment.Ssh;

/// <summary>
/// <see cref="IRemoteShell"/> over an exec channel: runs <c>sh -c 'SCRIPT' sh 'ARG'...</c> with every
/// piece single-quoted, so the login shell only ever sees quoted words; stdin is streamed (written
/// straight into the channel, bounded by SSH flow control), never buffered whole.
/// </summary>
public sealed class SshRemoteShell(SshClient client) : IRemoteShell
{
    // Cancelled before the client is disposed: SSH.NET completes no command still running when its own client
    // disconnects (it drops that error as expected), so a caller awaiting one would wait for ever.
    private readonly CancellationTokenSource closed = new();

    /// <summary>Ends every command still running (and its readers) with a lost connection; called before the client goes.</summary>
    public void Close() => closed.Cancel();

    public async Task<RemoteResult> RunAsync(
        string script,
        IReadOnlyList<string> arguments,
        Func<Stream, CancellationToken, Task>? writeInput,
        CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (closed.IsCancellationRequested) throw Closed();
        // SSH.NET sends no EOF for an input stream nothing was written to, so a script reading stdin would
        // wait forever: without input, stdin is /dev/null on the server instead.
        var line = CommandLine(script, arguments) + (writeInput is null ? " </dev/null" : "");
        using var command = client.CreateCommand(line, Encoding.UTF8);
        // No per-command timeout: the caller's token (and the per-attempt timeout around it) bounds it.
        command.CommandTimeout = Timeout.InfiniteTimeSpan;

        // SSH.NET's order: start, then open stdin (it throws before execution has started), dispose = EOF.
        // Starting blocks the caller for two round trips (channel open, exec request): on a thread of its own, so that
        // commands started together (the parts of an upload, several servers) open their channels at once, not in turn,
        // and no pool thread is held waiting on the network.
        Task run;
        try
        {
            run = await Task.Factory.StartNew(() => command.ExecuteAsync(cancellationToken), cancellationToken,
                TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        catch (Renci.SshNet.Common.SshException e) when (e.Message.StartsWith("Failed to open a channel", StringComparison.Ordinal))
        {
            throw new ChannelRefusedException($"The server refused another session on this connection ({e.Message}); its sshd MaxSessions is lower than the deploy's sessions at once.", e);
        }
        // Read while it runs, each stream bounded: a server that sends without end costs bytes, not memory.
        var output = Read(command.OutputStream, ServerText.MaxOutputBytes);
        var error = Read(command.ExtendedOutputStream, ServerText.MaxErrorBytes);
        Exception? inputFailure = null;
        using var dropped = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, closed.Token);
        if (writeInput is not null)
        {
            try
            {
                using var input = command.CreateInputStream();
                await writeInput(input, dropped.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // Stdin is closed by now (EOF), so a remote reader ends; its status usually says more.
                inputFailure = closed.IsCancellationRequested && !cancellationToken.IsCancellationRequested ? Closed() : e;
            }
        }

        try
        {
            await run.WaitAsync(closed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (closed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // Leaving the scope disposes the command, which ends its output streams and so the readers.
            throw Closed();
        }
        catch (Exception) when (inputFailure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(inputFailure).Throw();
        }

        var result = new RemoteResult(ExitStatusOf(command), await output.ConfigureAwait(false), await error.ConfigureAwait(false));
        // A remote failure that ended the input early is reported by its exit status; a local
        // failure (reading the site, cancellation) with a remote success is still a failure.
        if (inputFailure is not null && (result.Succeeded || inputFailure is OperationCanceledException))
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(inputFailure).Throw();
        return result;
    }

    private static Renci.SshNet.Common.SshConnectionException Closed() =>
        new("The connection was closed while a command ran.", Renci.SshNet.Messages.Transport.DisconnectReason.ConnectionLost);

    private static Task<string> Read(Stream stream, int limit) =>
        Task.Factory.StartNew(() => ServerText.ReadBounded(stream, limit), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary><c>sh -c 'SCRIPT' sh 'ARG'...</c>: $0 is "sh", the arguments are $1...</summary>
    public static string CommandLine(string script, IReadOnlyList<string> arguments)
    {
        var text = new StringBuilder("sh -c ").Append(Quote(script)).Append(" sh");
        foreach (var argument in arguments)
            text.Append(' ').Append(Quote(argument));
        return text.ToString();
    }

    /// <summary>POSIX single quoting: nothing inside is special except the quote itself.</summary>
    public static string Quote(string value)
    {
        if (value.Contains('\0')) throw new ArgumentException("A NUL byte cannot be passed to a remote command.", nameof(value));
        return "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    private static int ExitStatusOf(SshCommand command)
    {
        if (command.ExitStatus is { } status) return status;
        // Killed by a signal: report it as a shell would (128 + signal number) when the name is known.
        return command.ExitSignal switch
        {
            "HUP" => 129, "INT" => 130, "QUIT" => 131, "ABRT" => 134, "KILL" => 137,
            "SEGV" => 139, "PIPE" => 141, "ALRM" => 142, "TERM" => 143,
            _ => -1,
        };
    }
}
