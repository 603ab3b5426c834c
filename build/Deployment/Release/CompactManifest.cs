using System.IO.Compression;
using System.Text;

namespace Build.Deployment.Release;

/// <summary>
/// The form of a release's manifest that the next deploy downloads to compute its delta
/// (<c>.deploy/manifests/&lt;id&gt;.compact</c>, one line): the client writes it, the server only stores it and
/// prints it back. The json next to it stays the record (and what older deploys compare with); this one is a third of its size
/// because the SHA-256s are binary and the sorted paths share their prefixes.
/// <para>
/// Base64 (the reply is text, cleaned of control characters) of a gzip stream of: the magic <c>DMC1</c>; the
/// release id (varint length, UTF-8); the manifest hash (32 bytes); the entry count (varint); then, in columns so
/// that gzip finds what is alike, each path as the number of UTF-8 bytes it shares with the path before it and the
/// rest (varint, varint, bytes); each size (varint); each mode (varint); each SHA-256 (32 bytes). Nothing may follow.
/// </para>
/// <para>
/// What comes back is hostile: its length, the decompressed length (no zip bomb) and the count are bounded; every
/// varint, path (UTF-8, relative, no empty, <c>.</c> or <c>..</c> segment, strictly ascending) and mode is
/// checked; and the entries must hash to the manifest hash it names, so a damaged file is no manifest (every
/// file is sent), never a wrong link.
/// </para>
/// </summary>
public static class CompactManifest
{
    /// <summary>Decompressed bytes accepted: about 500,000 files of 60-byte names.</summary>
    public const int MaxDecodedBytes = 48 * 1024 * 1024;

    /// <summary>Entries accepted (each costs at least 35 decoded bytes, so the byte bound holds them too).</summary>
    public const int MaxEntries = 1_000_000;

    /// <summary>A path's UTF-8 bytes: PATH_MAX.</summary>
    public const int MaxPathBytes = 4096;

    private const int HashBytes = 32;
    private static readonly byte[] Magic = "DMC1"u8.ToArray();

    // The base64 of a gzip stream that inflates to at most MaxDecodedBytes is far shorter than this; longer is refused unread.
    private const int MaxEncodedChars = MaxDecodedBytes / 3 * 4;

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    /// <summary>The compact form of <paramref name="manifest"/> for release <paramref name="releaseId"/> (no line feed).</summary>
    public static string Encode(Manifest manifest, string releaseId)
    {
        var body = new MemoryStream();
        body.Write(Magic);
        var id = Encoding.UTF8.GetBytes(releaseId);
        WriteVarint(body, (ulong)id.Length);
        body.Write(id);
        body.Write(Convert.FromHexString(manifest.Hash));
        WriteVarint(body, (ulong)manifest.Count);
        var previous = Array.Empty<byte>();
        foreach (var e in manifest.Entries)
        {
            var path = Encoding.UTF8.GetBytes(e.Path);
            var shared = path.AsSpan().CommonPrefixLength(previous);
            WriteVarint(body, (ulong)shared);
            WriteVarint(body, (ulong)(path.Length - shared));
            body.Write(path, shared, path.Length - shared);
            previous = path;
        }
        foreach (var e in manifest.Entries) WriteVarint(body, (ulong)e.Size);
        foreach (var e in manifest.Entries) WriteVarint(body, (ulong)e.Mode);
        foreach (var e in manifest.Entries) body.Write(Convert.FromHexString(e.Sha256));

        var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.SmallestSize, leaveOpen: true))
            gzip.Write(body.GetBuffer(), 0, (int)body.Length);
        return Convert.ToBase64String(packed.GetBuffer(), 0, (int)packed.Length);
    }

    /// <summary>
    /// Reads a compact manifest as a server printed it. Throws <see cref="FormatException"/> for anything that is not
    /// exactly a well-formed one whose entries hash to the manifest hash it names.
    /// </summary>
    public static (Manifest Manifest, string ReleaseId) Decode(string text)
    {
        text = text.Trim();
        if (text.Length == 0) throw new FormatException("the compact manifest is empty");
        if (text.Length > MaxEncodedChars) throw new FormatException("the compact manifest is too long");
        var packed = new byte[text.Length / 4 * 3 + 3];
        if (!Convert.TryFromBase64String(text, packed, out var packedLength))
            throw new FormatException("the compact manifest is not base64");
        var body = Inflate(packed.AsMemory(0, packedLength));
        var reader = new Reader(body);
        if (!reader.Bytes(Magic.Length).SequenceEqual(Magic)) throw new FormatException("the compact manifest has an unknown format");
        var releaseId = reader.Text(reader.Length(64));
        var hash = Convert.ToHexStringLower(reader.Bytes(HashBytes));
        // Every entry takes at least 36 bytes (two path numbers, a size, a mode, a hash): a count the rest cannot hold is refused before anything is allocated for it.
        var count = reader.Length(Math.Min(MaxEntries, reader.Left / 36));

        var paths = new string[count];
        var previous = Array.Empty<byte>();
        for (var i = 0; i < count; i++)
        {
            var shared = reader.Length(previous.Length);
            var rest = reader.Length(MaxPathBytes - shared);
            var path = new byte[shared + rest];
            previous.AsSpan(0, shared).CopyTo(path);
            reader.Bytes(rest).CopyTo(path.AsSpan(shared));
            paths[i] = reader.Path(path);
            if (i > 0 && string.CompareOrdinal(paths[i - 1], paths[i]) >= 0)
                throw new FormatException($"the compact manifest's paths are not in order ({paths[i]})");
            previous = path;
        }
        var sizes = new long[count];
        for (var i = 0; i < count; i++) sizes[i] = (long)reader.Varint(long.MaxValue);
        var modes = new int[count];
        for (var i = 0; i < count; i++) modes[i] = (int)reader.Varint(0b111_111_111_111);
        var entries = new ManifestEntry[count];
        for (var i = 0; i < count; i++)
            entries[i] = new ManifestEntry(paths[i], sizes[i], Convert.ToHexStringLower(reader.Bytes(HashBytes)), modes[i]);
        if (!reader.AtEnd) throw new FormatException("the compact manifest has bytes after its entries");

        var manifest = new Manifest(entries);
        if (!string.Equals(manifest.Hash, hash, StringComparison.Ordinal))
            throw new FormatException($"the compact manifest of {releaseId} does not match its recorded hash");
        return (manifest, releaseId);
    }

    /// <summary>Inflates at most <see cref="MaxDecodedBytes"/>: a stream that inflates further is refused, not read to its end.</summary>
    private static byte[] Inflate(ReadOnlyMemory<byte> packed)
    {
        try
        {
            using var gzip = new GZipStream(new MemoryStream(packed.ToArray(), writable: false), CompressionMode.Decompress);
            var output = new MemoryStream();
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = gzip.Read(buffer, 0, buffer.Length)) > 0)
            {
                if (output.Length + n > MaxDecodedBytes)
                    throw new FormatException($"the compact manifest inflates beyond {MaxDecodedBytes / 1024 / 1024} MB");
                output.Write(buffer, 0, n);
            }
            return output.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new FormatException($"the compact manifest is not a valid gzip stream ({e.Message})", e);
        }
    }

    private static void WriteVarint(Stream stream, ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        stream.WriteByte((byte)value);
    }

    /// <summary>Reads the decoded body; every read is bounded by what is left, every number by what it may be.</summary>
    private sealed class Reader(byte[] data)
    {
        private int position;

        public bool AtEnd => position == data.Length;

        public int Left => data.Length - position;

        public ReadOnlySpan<byte> Bytes(int count)
        {
            if (count < 0 || count > data.Length - position) throw new FormatException("the compact manifest is cut short");
            var span = data.AsSpan(position, count);
            position += count;
            return span;
        }

        /// <summary>A little-endian base-128 number of at most 10 bytes, no larger than <paramref name="max"/>.</summary>
        public ulong Varint(ulong max)
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = Bytes(1)[0];
                if (shift == 63 && b > 1) break;
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                    return value <= max ? value : throw new FormatException($"the compact manifest has a number out of range ({value})");
            }
            throw new FormatException("the compact manifest has a malformed number");
        }

        public int Length(int max) => (int)Varint((ulong)Math.Max(0, max));

        public string Text(int length)
        {
            try
            {
                return StrictUtf8.GetString(Bytes(length));
            }
            catch (DecoderFallbackException e)
            {
                throw new FormatException("the compact manifest has text that is not UTF-8", e);
            }
        }

        /// <summary>A path as the site's walk makes them: relative, slash-separated, no empty, "." or ".." segment, no NUL.</summary>
        public string Path(byte[] bytes)
        {
            string path;
            try
            {
                path = StrictUtf8.GetString(bytes);
            }
            catch (DecoderFallbackException e)
            {
                throw new FormatException("the compact manifest has a path that is not UTF-8", e);
            }
            if (path.Length == 0 || path.Contains('\0') || path.Split('/').Any(s => s is "" or "." or ".."))
                throw new FormatException($"the compact manifest has a malformed path ({path})");
            return path;
        }
    }
}
