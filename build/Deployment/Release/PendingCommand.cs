using System.Text;

namespace Build.Deployment.Release;

/// <summary>
/// A remote script started ahead of time that waits for its first stdin line (its arguments) before it does
/// anything: opening the channel and starting the command, two round trips, overlap with whatever runs
/// meanwhile (taking the lock, the upload), so the step itself costs one round trip. Skipped, it exits
/// having changed nothing; if the connection dies first, stdin ends and so does the script.
/// </summary>
internal sealed class PendingCommand
{
    private const string Skip = "skip";

    private readonly TaskCompletionSource<Func<Stream, CancellationToken, Task>?> input = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task<RemoteResult> result;

    // Its own: the token of the step that started it (a retry attempt's, pooled) may be cancelled or reused after that step;
    // only the step that runs it may cancel it.
    private readonly CancellationTokenSource cancel = new();

    public PendingCommand(IRemoteShell shell, string script, IReadOnlyList<string> arguments)
    {
        result = shell.RunAsync(script, arguments, async (stream, ct) =>
        {
            started.TrySetResult();
            var write = await input.Task.WaitAsync(ct);
            if (write is null)
                await stream.WriteAsync(Encoding.UTF8.GetBytes(Skip + "\n"), ct); // SSH.NET sends EOF only after a write
            else
                await write(stream, ct);
        }, cancel.Token);
        // A skipped or abandoned command's failure (a dropped connection) is nobody's business.
        _ = result.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
    }

    /// <summary>Sends the arguments line (and what follows it) and waits for the result.</summary>
    public async Task<RemoteResult> RunAsync(string header, Func<Stream, CancellationToken, Task> rest, CancellationToken cancellationToken)
    {
        if (!input.TrySetResult(async (stream, ct) =>
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(header + "\n"), ct);
                await rest(stream, ct);
            }))
            throw new InvalidOperationException("A pending command runs once.");
        await using var _ = cancellationToken.Register(cancel.Cancel);
        return await result;
    }

    /// <summary>Lets the script end without doing anything.</summary>
    public void Cancel() => input.TrySetResult(null);

    /// <summary>Cancels it and waits until it has ended, so that its channel is free again.</summary>
    public async Task EndAsync()
    {
        Cancel();
        await result.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>
    /// Whether the server refused its channel (sshd's MaxSessions): then it never started and the step that
    /// wanted it runs a command of its own once the others have ended. Waits until it started or failed.
    /// </summary>
    public async Task<bool> RefusedAsync()
    {
        await Task.WhenAny(started.Task, result);
        return !started.Task.IsCompleted && result.Exception?.InnerException is ChannelRefusedException;
    }
}
