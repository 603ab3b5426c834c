using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;

namespace Build.Deployment.Release;

/// <summary>
/// Bytes written to the server and their SHA-256 (compared with the hash the server computed); <paramref name="OwnStream"/>:
/// it fell behind the stream it shared with other servers and got the rest from a stream of its own.
/// </summary>
public sealed record StreamStats(long Bytes, string Sha256, bool OwnStream = false);

/// <summary>
/// Writes one part of the upload of one server as a tar stream to be extracted with <c>tar -x -C &lt;root&gt;/releases</c>:
/// directories and changed files as regular entries under <c>.&lt;id&gt;.partial/</c>, unchanged files as hard-link
/// entries whose target is <c>&lt;base-id&gt;/&lt;path&gt;</c>, then (part 0) the manifest (compact and json) and meta under <c>.&lt;id&gt;.deploy/</c>
/// (last, so a cut stream lacks them). File contents are streamed from disk, one file at a time. Compressed, the stream
/// is a series of zstd frames or gzip members (<paramref name="compression"/>), one per <see cref="UploadUnits.TarBytesPerUnit"/>
/// of tar, each at the level the <see cref="CompressionGovernor"/> chose from what the previous ones measured.
/// </summary>
public sealed class ReleaseStream(ReleaseCandidate candidate, string? baseReleaseId, UploadPart part, StreamCompression compression, TimeProvider? time = null)
{
    private const UnixFileMode DirectoryMode = (UnixFileMode)0b111_101_101;

    public StreamCompression Compression => compression;

    /// <summary>The whole stream straight to <paramref name="destination"/> (one server, no sharing).</summary>
    public async Task<StreamStats> WriteAsync(Stream destination, CancellationToken cancellationToken)
    {
        using var hashing = new HashingStream(destination);
        await WriteUnitsAsync(async (unit, ct) => await hashing.WriteAsync(unit.Data, ct), new CompressionGovernor(compression), 0, cancellationToken);
        // Not disposed: that would dispose the hashing stream before its hash is read (the destination stays open either way).
        return new StreamStats(hashing.Length, hashing.Hash());
    }

    /// <summary>
    /// The stream from the shared stream of its plan (<paramref name="key"/>); let go for falling more than the buffer
    /// behind, the rest comes from a stream produced for this server alone. The hash is of what this server was sent.
    /// </summary>
    public async Task<StreamStats> SendSharedAsync(SharedUploads shared, string key, Stream destination, CancellationToken cancellationToken)
    {
        using var hashing = new HashingStream(destination);
        // The shared producer feels the link only once its buffer and a channel's window are full.
        var (_, reader) = shared.Join(key, (emit, ct) =>
            WriteUnitsAsync(emit, new CompressionGovernor(compression, shared.Capacity + CompressionGovernor.ChannelWindow), 0, ct));
        using (reader)
        {
            while (await reader.NextAsync(cancellationToken) is { } unit)
            {
                await hashing.WriteAsync(unit.Data, cancellationToken);
                reader.Sent(unit);
            }
            if (reader.Detached)
                await WriteUnitsAsync(async (unit, ct) => await hashing.WriteAsync(unit.Data, ct), new CompressionGovernor(compression), reader.TarSent, cancellationToken);
        }
        return new StreamStats(hashing.Length, hashing.Hash(), reader.Detached);
    }

    /// <summary>The stream as units (<see cref="UploadUnits"/>), from the tar offset <paramref name="skip"/> (a unit boundary) on.</summary>
    public async Task WriteUnitsAsync(Func<UploadUnit, CancellationToken, ValueTask> emit, CompressionGovernor governor, long skip, CancellationToken cancellationToken)
    {
        await using var units = new UploadUnits(emit, compression, governor, time ?? TimeProvider.System, skip);
        var writer = new TarWriter(units, TarEntryFormat.Pax, leaveOpen: true);
        // Disposed only on success: disposing writes the end-of-archive blocks, which after a failure or cancellation
        // would be a write without a token into a connection that may never drain.
        await WriteEntriesAsync(writer, cancellationToken);
        await writer.DisposeAsync();
        await units.CompleteAsync(cancellationToken);
    }

    private async Task WriteEntriesAsync(TarWriter writer, CancellationToken cancellationToken)
    {
        var id = candidate.ReleaseId;
        var stage = $".{id}.partial/";
        var now = candidate.Info.CreatedAt;
        await writer.WriteEntryAsync(Entry(TarEntryType.Directory, stage, DirectoryMode, now), cancellationToken);
        foreach (var dir in part.Directories())
            await writer.WriteEntryAsync(Entry(TarEntryType.Directory, stage + dir + "/", DirectoryMode, now), cancellationToken);

        foreach (var entry in part.Link)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await writer.WriteEntryAsync(Entry(TarEntryType.HardLink, stage + entry.Path, (UnixFileMode)entry.Mode, now, $"{baseReleaseId}/{entry.Path}"), cancellationToken);
        }

        foreach (var entry in part.Send)
        {
            // Opened only after its type is checked again; the entry carries exactly the bytes the manifest hashed.
            await using var file = SiteScan.Open(candidate.SiteDirectory, entry.Path);
            await using var content = new ExactContent(file, entry);
            if (entry.Size == 0)
                content.CheckEnd(); // TarWriter reads nothing for an empty entry
            // The time is the release's: the server extracts with -m (extraction time), which the seal marker relies on.
            var tar = Entry(TarEntryType.RegularFile, stage + entry.Path, (UnixFileMode)entry.Mode, now);
            tar.DataStream = content;
            await writer.WriteEntryAsync(tar, cancellationToken);
        }

        if (!part.CarriesManifest)
            return;
        var side = $".{id}.deploy/";
        // An entry of its own: the other parts create this directory for their markers meanwhile, and GNU tar gives
        // up on a file whose missing parent appears between its open and its mkdir.
        await writer.WriteEntryAsync(Entry(TarEntryType.Directory, side, DirectoryMode, now), cancellationToken);
        await WriteTextAsync(writer, side + "manifest.compact", candidate.CompactManifest, now, cancellationToken);
        await WriteTextAsync(writer, side + "manifest.json", candidate.ManifestJson, now, cancellationToken);
        await WriteTextAsync(writer, side + "meta", candidate.MetaJson, now, cancellationToken);
    }

    /// <summary>
    /// A plain ustar entry when the names fit (ASCII, short): one 512-byte header. Otherwise PAX, whose extended
    /// header carries any UTF-8 name and link target at any length (GNU tar and BusyBox tar both read it).
    /// </summary>
    internal static TarEntry Entry(TarEntryType type, string name, UnixFileMode mode, DateTimeOffset time, string? linkName = null)
    {
        TarEntry entry = FitsUstar(name) && (linkName is null || (Ascii.IsValid(linkName) && Encoding.ASCII.GetByteCount(linkName) <= 100))
            ? new UstarTarEntry(type, name)
            : new PaxTarEntry(type, name);
        entry.Mode = mode;
        entry.ModificationTime = time;
        if (linkName is not null)
            entry.LinkName = linkName;
        return entry;
    }

    private static bool FitsUstar(string name) =>
        Ascii.IsValid(name) && name.Length <= 100 && !name.Any(char.IsControl);

    private static async Task WriteTextAsync(TarWriter writer, string name, string text, DateTimeOffset time, CancellationToken cancellationToken)
    {
        using var data = new MemoryStream(Encoding.UTF8.GetBytes(text));
        var entry = Entry(TarEntryType.RegularFile, name, (UnixFileMode)0b110_100_100, time);
        entry.DataStream = data;
        await writer.WriteEntryAsync(entry, cancellationToken);
    }

    /// <summary>Every directory holding a file, parents first, so each gets mode 0755 whatever the remote umask.</summary>
    internal static IEnumerable<string> Directories(IEnumerable<ManifestEntry> entries)
    {
        var seen = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var path = entry.Path;
            for (var slash = path.IndexOf('/'); slash > 0; slash = path.IndexOf('/', slash + 1))
                seen.Add(path[..slash]);
        }
        return seen; // ordinal order puts "a" before "a/b"
    }

    /// <summary>
    /// A file's content as a tar entry's data: exactly <see cref="ManifestEntry.Size"/> bytes (TarWriter takes the header's
    /// size from <see cref="Length"/> and then copies to end of stream). The last chunk is handed over only once the file
    /// is proven to end there and the bytes hash to the manifest's SHA-256; otherwise "the site changed while deploying"
    /// is thrown mid-entry, so the server's tar sees a cut archive and nothing is sealed, never a corrupt file.
    /// </summary>
    internal sealed class ExactContent(Stream file, ManifestEntry entry) : Stream
    {
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long position;
        private bool checkedEnd;

        public override bool CanRead => true;
        public override bool CanSeek => true; // so that TarWriter reads the size from Length; it never seeks
        public override bool CanWrite => false;
        public override long Length => entry.Size;

        public override long Position
        {
            get => position;
            set { if (value != position) throw new NotSupportedException(); }
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            var target = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => position + offset, _ => entry.Size + offset };
            return target == position ? position : throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var remaining = entry.Size - position;
            if (remaining == 0)
            {
                CheckEnd();
                return 0;
            }
            var read = file.Read(buffer[..(int)Math.Min(buffer.Length, remaining)]);
            if (read == 0)
                throw Manifest.Changed(entry.Path); // shorter than hashed
            hash.AppendData(buffer[..read]);
            position += read;
            if (position == entry.Size)
                CheckEnd();
            return read;
        }

        // Read in place: a site's files are local. A FileStream's asynchronous read of a synchronous handle hops to the
        // thread pool each time, twice per file with the end probe (~3,600 hops for an 1,800-file site, on 2 cores).
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult(Read(buffer.Span));
        }

        /// <summary>The file ends here and what was read is what the manifest hashed.</summary>
        public void CheckEnd()
        {
            if (checkedEnd) return;
            Span<byte> probe = stackalloc byte[1];
            if (file.Read(probe) != 0)
                throw Manifest.Changed(entry.Path); // longer than hashed
            if (!string.Equals(Convert.ToHexStringLower(hash.GetCurrentHash()), entry.Sha256, StringComparison.Ordinal))
                throw Manifest.Changed(entry.Path); // same size, other bytes
            checkedEnd = true;
        }

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                hash.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>Counts and hashes what passes through on its way to the server.</summary>
    internal sealed class HashingStream(Stream inner) : Stream
    {
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Written;
        public override long Position { get => Written; set => throw new NotSupportedException(); }
        private long Written { get; set; }

        public string Hash() => Convert.ToHexStringLower(hash.GetCurrentHash());

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            Written += buffer.Length;
            inner.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            hash.AppendData(buffer.Span);
            Written += buffer.Length;
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                hash.Dispose();
            base.Dispose(disposing);
        }
    }
}
