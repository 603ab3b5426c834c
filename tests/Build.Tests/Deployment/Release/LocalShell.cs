using System.Diagnostics;
using Build.Deployment;

using System.Runtime.Versioning;

namespace Build.Tests.Deployment.Release;

/// <summary>The tool set a test "server" offers.</summary>
public enum ShellFlavor
{
    /// <summary>dash with GNU tar and coreutils (plus the optional sha256sum, tee, mkfifo, gzip, awk, zstd).</summary>
    Gnu,
    /// <summary>BusyBox sh with BusyBox applets only.</summary>
    BusyBox,
    /// <summary>dash with only the assumed tools: sh, tar, mkdir, mv, ln, rm, cat, ls, find, date (no stream hash possible).</summary>
    Minimal,
}

/// <summary>
/// <see cref="IRemoteShell"/> as a real local process: <c>sh -c SCRIPT sh ARGS...</c> with PATH reduced to a
/// directory of symlinks to exactly the tools the flavor offers, so the scripts cannot lean on anything else.
/// <see cref="CutAfterBytes"/> simulates a cut connection: the stream stops mid-way (EOF reaches the script) and
/// the "connection" is dead for every later call.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class LocalShell : IRemoteShell, IDisposable
{
    /// <summary>The tools the remote scripts assume.</summary>
    internal static readonly string[] Required = ["sh", "tar", "mkdir", "mv", "ln", "rm", "cat", "ls", "find", "date"];

    /// <summary>The tools the remote scripts use when present (stream hash, gzip, a faster count).</summary>
    internal static readonly string[] Optional = ["sha256sum", "tee", "mkfifo", "gzip", "awk"];

    /// <summary>Optional tools BusyBox has no applet for: only the GNU flavor offers them (zstd, preferred to gzip).</summary>
    internal static readonly string[] OptionalBeyondBusyBox = ["zstd"];
    private readonly string toolDirectory;
    private readonly CancellationTokenSource closed = new();
    private bool dead;

    public LocalShell(ShellFlavor flavor, int? runAsUid = null)
    {
        Flavor = flavor;
        RunAsUid = runAsUid;
        toolDirectory = Directory.CreateTempSubdirectory("localshell-").FullName;
        var tools = flavor switch
        {
            ShellFlavor.Minimal => Required,
            ShellFlavor.BusyBox => Required.Concat(Optional),
            _ => Required.Concat(Optional).Concat(OptionalBeyondBusyBox),
        };
        foreach (var tool in tools)
        {
            var target = flavor == ShellFlavor.BusyBox ? Which("busybox") : tool == "sh" ? Which("dash") : Which(tool);
            File.CreateSymbolicLink(Path.Join(toolDirectory, tool), target);
        }
        // The tool directory must be reachable by an unprivileged user too.
        File.SetUnixFileMode(toolDirectory, (UnixFileMode)0b111_101_101);
    }

    public ShellFlavor Flavor { get; }

    public int? RunAsUid { get; }

    /// <summary>Stop the next stream after this many bytes, then behave as a dead connection.</summary>
    public long? CutAfterBytes { get; set; }

    /// <summary>Hold the next stream after this many bytes until the call is cancelled (a hung upload).</summary>
    public long? StallAfterBytes { get; set; }

    /// <summary>
    /// The next run of this script goes through on the "server", then the connection dies before its reply arrives
    /// (a switch whose reply was lost).
    /// </summary>
    public string? LoseReplyOf { get; set; }

    /// <summary>With <see cref="LoseReplyOf"/>: only a reply holding this text is lost (the upload part that switched, not one skipped).</summary>
    public string? LoseReplyHolding { get; set; }

    /// <summary>Whether <paramref name="script"/> ran (was started) on this shell.</summary>
    public bool Ran(string script) => ran.Contains(script);

    private readonly System.Collections.Concurrent.ConcurrentBag<string> ran = [];

    /// <summary>Completed when a stream stalls at <see cref="StallAfterBytes"/>.</summary>
    public TaskCompletionSource Stalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The shell's umask, as a login profile may leave it (null: inherited).</summary>
    public string? Umask { get; set; }

    public int Calls => calls;

    /// <summary>The "connection" was cut: every later call fails.</summary>
    public bool Dead => dead;

    private int calls;

    /// <summary>Calls that have returned (a marker tests wait on before advancing a fake clock).</summary>
    public int Completed => completed;

    private int completed;

    public async Task<RemoteResult> RunAsync(string script, IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task>? writeInput, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (dead)
            throw new IOException("connection lost (simulated)");
        // Closing the shell drops the "connection": every script still running ends with it.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, closed.Token);
        var token = linked.Token;
        Interlocked.Increment(ref calls);
        ran.Add(script);
        var start = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (RunAsUid is { } uid)
        {
            start.FileName = Which("setpriv");
            foreach (var a in new[] { $"--reuid={uid}", $"--regid={uid}", "--clear-groups", "--" })
                start.ArgumentList.Add(a);
            start.ArgumentList.Add(Path.Join(toolDirectory, "sh"));
        }
        else
        {
            start.FileName = Path.Join(toolDirectory, "sh");
        }
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Umask is null ? script : $"umask {Umask}\n{script}");
        start.ArgumentList.Add("sh");
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment.Clear();
        start.Environment["PATH"] = toolDirectory;
        start.Environment["HOME"] = "/";
        start.Environment["LC_ALL"] = "C.UTF-8";

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(token);
        var error = process.StandardError.ReadToEndAsync(token);
        try
        {
            var stdin = process.StandardInput.BaseStream;
            CuttingStream? cutting = null;
            if (writeInput is not null)
            {
                Stream target = stdin;
                if (CutAfterBytes is { } limit)
                    target = cutting = new CuttingStream(stdin, limit, null);
                else if (StallAfterBytes is { } stall)
                    target = new CuttingStream(stdin, stall, Stalled);
                try
                {
                    await writeInput(target, token);
                    await target.FlushAsync(token);
                }
                catch (IOException)
                {
                    // The script stopped reading (it exited early) or the simulated cut: its exit status tells the rest.
                }
                finally
                {
                    if (cutting is { Cut: true })
                    {
                        CutAfterBytes = null;
                        dead = true;
                    }
                }
            }
            try
            {
                stdin.Close();
            }
            catch (IOException)
            {
                // Already gone.
            }
            await process.WaitForExitAsync(token);
            // After a cut the client never learns how the script ended (the script itself has run to its end by now).
            if (cutting is { Cut: true })
                throw new IOException("connection cut (simulated)");
            var result = new RemoteResult(process.ExitCode, await output, await error);
            Interlocked.Increment(ref completed);
            if (LoseReplyOf is { } lost && lost == script && (LoseReplyHolding is not { } text || result.Output.Contains(text, StringComparison.Ordinal)))
            {
                LoseReplyOf = null;
                dead = true;
                throw new IOException("connection lost before the reply (simulated)");
            }
            return result;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            // As a dropped connection ends the remote script before the client goes on.
            await process.WaitForExitAsync(CancellationToken.None);
            if (!cancellationToken.IsCancellationRequested) throw new IOException("connection closed (simulated)");
            throw;
        }
    }

    public void Dispose()
    {
        dead = true;
        closed.Cancel();
        try
        {
            Directory.Delete(toolDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal static string Which(string tool)
    {
        foreach (var dir in new[] { "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin" })
        {
            var path = Path.Join(dir, tool);
            if (File.Exists(path))
                return path;
        }
        throw new FileNotFoundException($"{tool} is not installed; the release tests need it (apt-get install busybox coreutils tar).");
    }

    /// <summary>Passes bytes through until the limit, then throws as a broken connection would.</summary>
    private sealed class CuttingStream(Stream inner, long limit, TaskCompletionSource? stall) : Stream
    {
        private long written;

        public bool Cut { get; private set; }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) =>
            WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var room = (int)Math.Min(buffer.Length, limit - written);
            if (room > 0)
            {
                await inner.WriteAsync(buffer[..room], cancellationToken);
                written += room;
            }
            if (room < buffer.Length && stall is not null)
            {
                // A write that cannot be cancelled must not hang the test: it fails like a dead connection.
                if (!cancellationToken.CanBeCanceled)
                    throw new IOException("write after the stall without a cancellation token");
                stall.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            if (room < buffer.Length)
            {
                Cut = true;
                throw new IOException("connection cut (simulated)");
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
