using System.Diagnostics;
using System.Security.Cryptography;
using Build.Deployment.Ssh;
using Build.Tests.Support;
using Xunit.Abstractions;

namespace Build.Tests.Deployment.Ssh;

public sealed class SshRemoteShellTests(SshServerFixture fixture, ITestOutputHelper output) : IClassFixture<SshServerFixture>
{
    private static CancellationToken Timeout(int seconds = 120) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public void Command_line_single_quotes_every_piece()
    {
        Assert.Equal("sh -c 'echo \"$1\"' sh 'a b' 'it'\\''s' '$(x)'", SshRemoteShell.CommandLine("echo \"$1\"", ["a b", "it's", "$(x)"]));
        Assert.Equal("''", SshRemoteShell.Quote(""));
        Assert.Throws<ArgumentException>(() => SshRemoteShell.Quote("a\0b"));
    }

    [Fact]
    public async Task Runs_a_script_with_awkward_arguments_verbatim()
    {
        using var connection = await fixture.Connector().ConnectAsync(fixture.Target(), Timeout());
        string[] args = ["plain", "with space", "it's \"quoted\"", "$HOME `id` $(id) ; rm -rf x", "line1\nline2", "-n", "", "ünïcødé", "back\\slash", "*"];
        // $0 is "sh"; each argument comes back on its own NUL-terminated record.
        var result = await connection.Shell.RunAsync("printf '%s\\n' \"$0\"; printf '%s\\0' \"$@\"; echo oops >&2; exit 7", args, null, Timeout());
        Assert.Equal(7, result.ExitStatus);
        Assert.False(result.Succeeded);
        Assert.Equal("oops\n", result.Error);
        var lines = result.Output.Split('\n', 2);
        Assert.Equal("sh", lines[0]);
        Assert.Equal(args, lines[1].Split('\0')[..^1]);
    }

    [Fact]
    public async Task Script_text_with_quotes_and_newlines_runs_under_sh()
    {
        using var connection = await fixture.Connector().ConnectAsync(fixture.Target(), Timeout());
        var script = "set -eu\nname='it'\"'\"'s'\nif [ \"$#\" -eq 1 ]; then\n  printf '%s|%s\\n' \"$name\" \"$1\"\nfi\n";
        var result = await connection.Shell.RunAsync(script, ["x'y"], null, Timeout());
        Assert.Equal(0, result.ExitStatus);
        Assert.Equal("it's|x'y\n", result.Output);
    }

    [Fact]
    public async Task Streams_a_large_stdin_and_the_remote_end_sees_every_byte()
    {
        using var connection = await fixture.Connector().ConnectAsync(fixture.Target(), Timeout());
        const int size = 30 * 1024 * 1024;
        var block = RandomNumberGenerator.GetBytes(1024 * 1024);
        var watch = Stopwatch.StartNew();
        var result = await connection.Shell.RunAsync("wc -c", [], async (stdin, ct) =>
        {
            for (var sent = 0; sent < size; sent += block.Length)
                await stdin.WriteAsync(block, ct);
        }, Timeout());
        var seconds = watch.Elapsed.TotalSeconds;
        output.WriteLine($"30 MB stdin through SSH.NET exec channel: {seconds:0.00} s = {30 / seconds:0.0} MB/s");
        Assert.Equal(0, result.ExitStatus);
        Assert.Equal(size.ToString(), result.Output.Trim());
    }

    [Fact]
    public async Task Large_stdin_content_arrives_intact()
    {
        using var connection = await fixture.Connector().ConnectAsync(fixture.Target(), Timeout());
        var block = RandomNumberGenerator.GetBytes(1024 * 1024);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var result = await connection.Shell.RunAsync("sha256sum", [], async (stdin, ct) =>
        {
            for (var i = 0; i < 12; i++)
            {
                block[0] = (byte)i; // every block differs
                await stdin.WriteAsync(block, ct);
                hash.AppendData(block);
            }
        }, Timeout());
        Assert.Equal(0, result.ExitStatus);
        Assert.Equal(Convert.ToHexStringLower(hash.GetHashAndReset()), result.Output.Split(' ')[0]);
    }

    [Fact]
    public async Task Stdin_is_streamed_not_buffered_until_the_end()
    {
        using var connection = await fixture.Connector().ConnectAsync(fixture.Target(), Timeout());
        var root = await fixture.Server.CreateRemoteRootAsync($"stream-{Guid.NewGuid():N}");
        var file = Path.Join(root, "received");
        var result = await connection.Shell.RunAsync("cat > \"$1\"", [file], async (stdin, ct) =>
        {
            await stdin.WriteAsync(new byte[1024 * 1024], ct);
            await stdin.FlushAsync(ct);
            // The first megabyte reaches the server while this writer is still running.
            while (!File.Exists(file) || new FileInfo(file).Length < 1024 * 1024)
                await Task.Delay(20, ct);
            await stdin.WriteAsync(new byte[1024], ct);
        }, Timeout());
        Assert.Equal(0, result.ExitStatus);
        Assert.Equal(1024 * 1024 + 1024, new FileInfo(file).Length);
    }

    [Fact]
    public async Task A_remote_command_that_stops_reading_early_returns_its_status_without_hanging()
    {
        using var connection = await fixture.Connector().ConnectAsync(fixture.Target(), Timeout());
        var result = await connection.Shell.RunAsync("head -c 1000 > /dev/null; echo gave up >&2; exit 3", [], async (stdin, ct) =>
        {
            var block = new byte[256 * 1024];
            for (var i = 0; i < 200; i++) await stdin.WriteAsync(block, ct); // 50 MB, far more than any window
        }, Timeout(60));
        Assert.Equal(3, result.ExitStatus);
        Assert.Contains("gave up", result.Error);
    }

    [Fact]
    public async Task A_local_failure_while_writing_stdin_is_rethrown_after_the_remote_end_sees_eof()
    {
        using var connection = await fixture.Connector().ConnectAsync(fixture.Target(), Timeout());
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => connection.Shell.RunAsync("cat > /dev/null", [], async (stdin, ct) =>
        {
            await stdin.WriteAsync(new byte[1000], ct);
            throw new InvalidDataException("site file vanished");
        }, Timeout(60)));
        Assert.Equal("site file vanished", error.Message);
        // The connection is still usable afterwards.
        Assert.Equal("ok\n", (await connection.Shell.RunAsync("echo ok", [], null, Timeout())).Output);
    }

    [Fact]
    public async Task Several_commands_run_at_once_over_one_connection()
    {
        using var connection = await fixture.Connector().ConnectAsync(fixture.Target(), Timeout());
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i =>
            connection.Shell.RunAsync("cat", [], async (stdin, ct) => await stdin.WriteAsync(new byte[] { (byte)('a' + i) }, ct), Timeout())));
        Assert.Equal(["a", "b", "c", "d"], results.Select(r => r.Output));
    }

    [Fact]
    public async Task Cancellation_ends_a_running_command_promptly()
    {
        using var connection = await fixture.Connector().ConnectAsync(fixture.Target(), Timeout());
        var root = await fixture.Server.CreateRemoteRootAsync($"cancel-{Guid.NewGuid():N}");
        var marker = Path.Join(root, "started");
        using var cancel = new CancellationTokenSource();
        var watch = Stopwatch.StartNew();
        var run = connection.Shell.RunAsync("touch \"$1\"; cat > /dev/null; sleep 60", [marker], async (stdin, ct) =>
        {
            while (true) await stdin.WriteAsync(new byte[64 * 1024], ct); // endless input until cancelled
        }, cancel.Token);
        while (!File.Exists(marker)) await Task.Delay(20, Timeout());
        await cancel.CancelAsync();
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.False(SshErrors.IsTransient(error));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Commands_still_running_when_the_connection_is_disposed_end_as_a_lost_connection()
    {
        // SSH.NET itself completes none of them when its own client disconnects.
        var connection = await fixture.Connector().ConnectAsync(fixture.Target(), Timeout());
        var root = await fixture.Server.CreateRemoteRootAsync($"dispose-{Guid.NewGuid():N}");
        var reading = Path.Join(root, "reading");
        var sleeping = Path.Join(root, "sleeping");
        var neverWritten = new TaskCompletionSource();
        // One waits for stdin that never comes, one runs with stdin closed.
        var waitsForInput = connection.Shell.RunAsync("touch \"$1\"; cat > /dev/null", [reading], (_, ct) => neverWritten.Task.WaitAsync(ct), CancellationToken.None);
        var runs = connection.Shell.RunAsync("touch \"$1\"; sleep 60", [sleeping], null, CancellationToken.None);
        await Poll.UntilAsync(() => File.Exists(reading) && File.Exists(sleeping), TimeSpan.FromSeconds(60), "both commands started");

        var watch = Stopwatch.StartNew();
        connection.Dispose();
        foreach (var run in new[] { waitsForInput, runs })
        {
            var error = await Assert.ThrowsAnyAsync<Exception>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.IsNotType<TimeoutException>(error);
            Assert.True(SshErrors.IsTransient(error), $"{error.GetType().Name}: {error.Message}");
        }
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        await Assert.ThrowsAnyAsync<Exception>(() => connection.Shell.RunAsync("true", [], null, CancellationToken.None));
    }
}
