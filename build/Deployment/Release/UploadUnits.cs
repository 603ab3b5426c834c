using System.Buffers;
using System.IO.Compression;

namespace Build.Deployment.Release;

/// <summary>
/// One unit of an upload stream: the bytes sent for the tar stream up to <paramref name="TarEnd"/> (a gzip member or a
/// zstd frame of its own, or the raw tar bytes) and the level they were compressed at (0: not compressed). Units end at
/// fixed tar offsets, whatever their level, and each decodes alone, so that a server which stops sharing a stream
/// (<see cref="SharedUpload"/>) can go on with a stream of its own from the end of the last unit it sent.
/// </summary>
public sealed record UploadUnit(long TarEnd, byte[] Data, int Level);

/// <summary>
/// The sink the tar stream is written into: cuts it into units of <see cref="TarBytesPerUnit"/> tar bytes, compresses
/// each at the level <see cref="CompressionGovernor"/> chose when the unit is complete, as a gzip member (concatenated
/// members are one gzip stream to GNU and BusyBox tar -z alike) or as a zstd frame (concatenated frames are one stream
/// to <c>zstd -d</c>), and hands each to <c>emit</c>, timing how long producing and handing on took.
/// The first <c>skip</c> tar bytes (a whole number of units) are dropped: they were sent already.
/// </summary>
public sealed class UploadUnits : Stream
{
    /// <summary>
    /// 2 MiB of tar: small enough that the level changes several times within a blog's upload. Each unit starts with no
    /// history, which costs zstd (its window spans units) more than gzip (32 KB): on the benchmark's site, level 3 sends
    /// 2.40 MB in 1 MiB frames, 2.29 MB in 2 MiB frames and 2.18 MB as one stream.
    /// </summary>
    public const int TarBytesPerUnit = 2 << 20;

    private readonly Func<UploadUnit, CancellationToken, ValueTask> emit;
    private readonly StreamCompression compression;
    private readonly CompressionGovernor governor;
    private readonly TimeProvider time;
    private readonly long skip;
    // One unit's tar bytes, and (zstd) its frame: rented for the stream, reused by every unit.
    private readonly byte[] raw = ArrayPool<byte>.Shared.Rent(TarBytesPerUnit);
    private byte[]? packed;
    private readonly MemoryStream output = new();
    // One context for the whole stream: each frame is one of its own (no history carried over), only the level changes.
    private ZstdFrames? zstd;
    private long position;
    private long unitStart;
    private long lastEmit = -1;
    private readonly Queue<UploadUnit> pending = new();
    private bool disposed;

    public UploadUnits(Func<UploadUnit, CancellationToken, ValueTask> emit, StreamCompression compression, CompressionGovernor governor, TimeProvider time, long skip = 0)
    {
        if (compression != StreamCompression.None && governor.Compression != compression)
            throw new ArgumentException($"A {governor.Compression.Name()} governor cannot choose {compression.Name()} levels.", nameof(governor));
        this.emit = emit;
        this.compression = compression;
        this.governor = governor;
        this.time = time;
        this.skip = skip;
    }

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
                bytes[..take].CopyTo(raw.AsSpan((int)(position - unitStart)));
            position += take;
            bytes = bytes[take..];
            if (position == unitStart + TarBytesPerUnit)
                FinishUnit();
        }
    }

    /// <summary>Compresses the unit at the level chosen now, after the units before it were measured.</summary>
    private void FinishUnit()
    {
        if (unitStart >= skip)
        {
            var tar = raw.AsSpan(0, (int)(position - unitStart));
            var level = compression == StreamCompression.None ? 0 : governor.Level;
            pending.Enqueue(new UploadUnit(position, compression switch
            {
                StreamCompression.Gzip => Gzip(tar, level),
                StreamCompression.Zstd => Zstd(tar, level),
                _ => tar.ToArray(),
            }, level));
        }
        unitStart = position;
    }

    private byte[] Gzip(ReadOnlySpan<byte> tar, int level)
    {
        output.SetLength(0);
        using (var member = new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true))
            member.Write(tar); // disposing writes the member's tail
        return output.ToArray();
    }

    private byte[] Zstd(ReadOnlySpan<byte> tar, int level)
    {
        zstd ??= new ZstdFrames();
        packed ??= ArrayPool<byte>.Shared.Rent(ZstdFrames.Bound(TarBytesPerUnit));
        return packed.AsSpan(0, zstd.Compress(tar, packed, level)).ToArray();
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        while (pending.TryDequeue(out var unit))
        {
            var produced = time.GetTimestamp();
            await emit(unit, cancellationToken);
            var handedOn = time.GetTimestamp();
            if (compression != StreamCompression.None)
                governor.Observe(time.GetElapsedTime(lastEmit, produced), time.GetElapsedTime(produced, handedOn), unit.Data.Length);
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
        if (disposing && !disposed)
        {
            disposed = true;
            zstd?.Dispose();
            output.Dispose();
            ArrayPool<byte>.Shared.Return(raw);
            if (packed is not null) ArrayPool<byte>.Shared.Return(packed);
        }
        base.Dispose(disposing);
    }
}
