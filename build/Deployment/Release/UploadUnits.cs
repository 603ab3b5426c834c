using System.IO.Compression;

namespace Build.Deployment.Release;

/// <summary>
/// One unit of an upload stream: the bytes sent for the tar stream up to <paramref name="TarEnd"/> (a gzip member of its own,
/// or the raw tar bytes). Units end at fixed tar offsets, whatever their level, so that a server which stops sharing a
/// stream (<see cref="SharedUpload"/>) can go on with a stream of its own from the end of the last unit it sent.
/// </summary>
public sealed record UploadUnit(long TarEnd, byte[] Data, int Level);

/// <summary>
/// The sink the tar stream is written into: cuts it into units of <see cref="TarBytesPerUnit"/> tar bytes, compresses
/// each as a gzip member at the level <see cref="CompressionGovernor"/> chose (concatenated members are one gzip stream
/// to GNU and BusyBox tar -z alike), and hands each to <c>emit</c>, timing how long producing and handing on took.
/// The first <c>skip</c> tar bytes (a whole number of units) are dropped: they were sent already.
/// </summary>
public sealed class UploadUnits(Func<UploadUnit, CancellationToken, ValueTask> emit, bool gzip, CompressionGovernor governor, TimeProvider time, long skip = 0)
    : Stream
{
    /// <summary>1 MiB of tar: small enough to react within a blog's upload, large enough that a member's fresh dictionary costs ~1%.</summary>
    public const int TarBytesPerUnit = 1 << 20;

    private readonly MemoryStream output = new();
    private GZipStream? member;
    private long position;
    private long unitStart;
    private long lastEmit = -1;
    private readonly Queue<UploadUnit> pending = new();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => position;
    public override long Position { get => position; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <summary>Synchronous writes (the archive's end) only cut units; the next asynchronous write or the end emits them.</summary>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        StartClock();
        Append(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        StartClock();
        Append(buffer.Span);
        await DrainAsync(cancellationToken);
    }

    /// <summary>Emits what is left: the last unit, shorter than the others.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        StartClock();
        if (position > unitStart)
            FinishUnit();
        await DrainAsync(cancellationToken);
    }

    private void StartClock()
    {
        if (lastEmit < 0) lastEmit = time.GetTimestamp();
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        while (bytes.Length > 0)
        {
            var take = (int)Math.Min(bytes.Length, unitStart + TarBytesPerUnit - position);
            // A unit before skip was sent already: only counted (skip is a unit boundary).
            if (unitStart >= skip)
            {
                if (gzip)
                {
                    member ??= new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = governor.Level }, leaveOpen: true);
                    member.Write(bytes[..take]);
                }
                else
                {
                    output.Write(bytes[..take]);
                }
            }
            position += take;
            bytes = bytes[take..];
            if (position == unitStart + TarBytesPerUnit)
                FinishUnit();
        }
    }

    private void FinishUnit()
    {
        var level = member is null ? 0 : governor.Level;
        member?.Dispose(); // writes the member's tail
        member = null;
        if (unitStart >= skip)
        {
            pending.Enqueue(new UploadUnit(position, output.ToArray(), level));
            output.SetLength(0);
        }
        unitStart = position;
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        while (pending.TryDequeue(out var unit))
        {
            var produced = time.GetTimestamp();
            await emit(unit, cancellationToken);
            var handedOn = time.GetTimestamp();
            if (gzip) governor.Observe(time.GetElapsedTime(lastEmit, produced), time.GetElapsedTime(produced, handedOn), unit.Data.Length);
            lastEmit = handedOn;
        }
    }

    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            member?.Dispose();
            output.Dispose();
        }
        base.Dispose(disposing);
    }
}
