using Build.Deployment;

namespace Build.Tests.Deployment;

/// <summary>
/// <see cref="EarlyConnections"/>: each server's first connect takes the connection opened early, later ones open
/// their own, and a connection nobody takes is closed, whenever it arrives.
/// </summary>
public sealed class EarlyConnectionsTests
{
    private static readonly DeployTarget[] Servers = [new("s1", "127.0.0.1", 2201), new("s2", "127.0.0.1", 2202)];

    private sealed class Connection : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    private sealed class Connector
    {
        public List<string> Calls { get; } = [];
        public Dictionary<string, TaskCompletionSource<ServerLink>> Pending { get; } = [];

        public ConnectServer Connect => (server, _) =>
        {
            lock (Calls)
            {
                Calls.Add(server.Name);
                var pending = new TaskCompletionSource<ServerLink>(TaskCreationOptions.RunContinuationsAsynchronously);
                Pending[$"{server.Name}#{Calls.Count(c => c == server.Name)}"] = pending;
                return pending.Task;
            }
        };

        public ServerLink Complete(string key)
        {
            var link = new ServerLink(new NoShell(), new Connection());
            TaskCompletionSource<ServerLink> pending;
            lock (Calls) pending = Pending[key];
            pending.SetResult(link);
            return link;
        }

        public async Task WaitForCallsAsync(int count)
        {
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (true)
            {
                lock (Calls)
                    if (Calls.Count >= count) return;
                await Task.Delay(5, bound.Token);
            }
        }
    }

    private sealed class NoShell : IRemoteShell
    {
        public Task<RemoteResult> RunAsync(string script, IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task>? writeInput, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("not used");
    }

    [Fact]
    public async Task The_first_connect_to_each_server_takes_its_early_connection_and_a_reconnect_opens_a_new_one()
    {
        var connector = new Connector();
        using var early = new EarlyConnections(Servers, connector.Connect, CancellationToken.None);
        await connector.WaitForCallsAsync(2);
        ConnectServer connect = early.ConnectAsync;

        var first = connector.Complete("s1#1");
        Assert.Same(first, await connect(Servers[0], CancellationToken.None));

        var reconnect = connect(Servers[0], CancellationToken.None);
        await connector.WaitForCallsAsync(3);
        var second = connector.Complete("s1#2");
        Assert.Same(second, await reconnect);
        // One early connect per server, and the reconnect's own.
        Assert.Equal(["s1", "s1", "s2"], connector.Calls.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_early_connect_that_failed_fails_the_first_attempt_and_the_retry_connects_again()
    {
        var connector = new Connector();
        using var early = new EarlyConnections(Servers[..1], connector.Connect, CancellationToken.None);
        await connector.WaitForCallsAsync(1);
        connector.Pending["s1#1"].SetException(new IOException("Connection refused"));
        ConnectServer connect = early.ConnectAsync;

        var failure = await Assert.ThrowsAsync<IOException>(() => connect(Servers[0], CancellationToken.None));
        Assert.Equal("Connection refused", failure.Message);
        var retry = connect(Servers[0], CancellationToken.None);
        await connector.WaitForCallsAsync(2);
        Assert.Same(connector.Complete("s1#2"), await retry);
    }

    [Fact]
    public async Task An_attempt_that_gives_up_waiting_leaves_the_late_connection_closed()
    {
        var connector = new Connector();
        using var early = new EarlyConnections(Servers[..1], connector.Connect, CancellationToken.None);
        await connector.WaitForCallsAsync(1);
        ConnectServer connect = early.ConnectAsync;
        using var attempt = new CancellationTokenSource();

        var waiting = connect(Servers[0], attempt.Token);
        await attempt.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        var late = connector.Complete("s1#1");
        await WaitUntilAsync(() => ((Connection)late.Connection).Disposed);
    }

    [Fact]
    public async Task Connections_no_attempt_took_are_closed_on_dispose_even_when_they_arrive_later()
    {
        var connector = new Connector();
        var early = new EarlyConnections(Servers, connector.Connect, CancellationToken.None);
        await connector.WaitForCallsAsync(2);
        var arrived = connector.Complete("s1#1");
        // Settled before the dispose: s1's connection is there, s2's still on its way.
        await WaitUntilAsync(() => connector.Pending["s1#1"].Task.IsCompleted);

        early.Dispose();
        var late = connector.Complete("s2#1");

        await WaitUntilAsync(() => ((Connection)arrived.Connection).Disposed && ((Connection)late.Connection).Disposed);
        // After the dispose, a connect opens its own.
        ConnectServer connect = early.ConnectAsync;
        var fresh = connect(Servers[0], CancellationToken.None);
        await connector.WaitForCallsAsync(3);
        Assert.Same(connector.Complete("s1#2"), await fresh);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition()) await Task.Delay(5, bound.Token);
    }
}
