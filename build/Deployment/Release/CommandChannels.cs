namespace Build.Deployment.Release;

/// <summary>
/// Which command of a session runs on which channel: the upload parts and the switch are started ahead
/// (<see cref="PendingCommand"/>) while the lock is taken, so that each of those steps costs one round trip.
/// A server that refuses a channel (sshd's <c>MaxSessions</c>) makes the session fall back, for good, to one
/// command at a time and an upload in one stream. The protocol (<see cref="ReleaseSession"/>) only asks for commands.
/// </summary>
internal sealed class CommandChannels(IRemoteShell shell, IReadOnlyList<string> arguments)
{
    private readonly Queue<PendingCommand> _uploads = new();
    private PendingCommand? _switch;

    /// <summary>The server refused a channel: from then on one command at a time.</summary>
    public bool OneAtATime { get; private set; }

    /// <summary>Starts <paramref name="uploads"/> upload parts and (unless the upload switches itself) the switch, each waiting for its arguments line.</summary>
    private void StartAhead(int uploads, bool switchAhead)
    {
        CancelAll();
        if (OneAtATime) return;
        for (var i = 0; i < Math.Max(1, uploads); i++)
            _uploads.Enqueue(Start(RemoteScripts.Upload));
        if (switchAhead) _switch = Start(RemoteScripts.Switch);
    }

    /// <summary>
    /// Runs a step that needs a channel now (the lock) and starts the commands ahead behind it (<see cref="StartAhead"/>):
    /// the step's round trips are what the deploy waits for, so its channel is asked for first. If the server refuses
    /// it all the same, the commands started ahead give way and the step runs again alone; on any other failure they are let go.
    /// </summary>
    public async Task<T> FirstThenAheadAsync<T>(Func<Task<T>> step, int uploads, bool switchAhead)
    {
        CancelAll();
        var first = step();
        StartAhead(uploads, switchAhead);
        try
        {
            return await first;
        }
        catch (ChannelRefusedException)
        {
            await EndAllAsync();
            OneAtATime = true;
        }
        catch
        {
            CancelAll();
            throw;
        }
        return await step();
    }

    /// <summary>How many upload streams this session may open: <paramref name="wanted"/>, or 1 once a channel was refused.</summary>
    public async Task<int> UploadStreamsAsync(int wanted)
    {
        foreach (var started in _uploads)
            OneAtATime |= await started.RefusedAsync();
        if (OneAtATime) await EndAllAsync();
        return OneAtATime ? 1 : Math.Max(1, wanted);
    }

    /// <summary><paramref name="count"/> upload commands: those started ahead first; the unused ones are let go.</summary>
    public IReadOnlyList<PendingCommand> TakeUploads(int count)
    {
        var commands = Enumerable.Range(0, count).Select(_ => _uploads.TryDequeue(out var started) ? started : Start(RemoteScripts.Upload)).ToList();
        while (_uploads.TryDequeue(out var unused)) unused.Cancel();
        return commands;
    }

    /// <summary>The switch command: the one started ahead unless its channel was refused.</summary>
    public async Task<PendingCommand> TakeSwitchAsync()
    {
        var started = _switch;
        _switch = null;
        return started is not null && !await started.RefusedAsync() ? started : Start(RemoteScripts.Switch);
    }

    /// <summary>Lets every command started ahead end without doing anything.</summary>
    public void CancelAll()
    {
        foreach (var pending in TakeAll()) pending.Cancel();
    }

    /// <summary>Ends every command started ahead and waits until their channels are closed.</summary>
    private Task EndAllAsync() => Task.WhenAll(TakeAll().Select(p => p.EndAsync()));

    private PendingCommand Start(string script) => new(shell, script, arguments);

    private List<PendingCommand> TakeAll()
    {
        var all = _uploads.Concat(_switch is null ? [] : [_switch]).ToList();
        _uploads.Clear();
        _switch = null;
        return all;
    }
}
