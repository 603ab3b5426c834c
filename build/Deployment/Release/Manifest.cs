using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Build.Deployment.Release;

/// <summary>One file of a release: path relative to the site root (forward slashes), size, SHA-256 (hex), unix mode bits.</summary>
public sealed record ManifestEntry(string Path, long Size, string Sha256, int Mode)
{
    /// <summary>Content and mode: mode is part of a file's identity because a hard-linked file must never be chmod'ed.</summary>
    public bool SameContentAndMode(ManifestEntry other) =>
        Size == other.Size && Mode == other.Mode && string.Equals(Sha256, other.Sha256, StringComparison.Ordinal);
}

/// <summary>
/// Every file of a site directory, sorted by path (ordinal). <see cref="Hash"/> identifies the content:
/// two manifests with the same hash describe byte-for-byte and mode-for-mode the same tree.
/// </summary>
public sealed class Manifest
{
    public Manifest(IEnumerable<ManifestEntry> entries)
    {
        Entries = entries.OrderBy(e => e.Path, StringComparer.Ordinal).ToArray();
        ByPath = Entries.ToDictionary(e => e.Path, StringComparer.Ordinal);
        TotalBytes = Entries.Sum(e => e.Size);
        Hash = ComputeHash(Entries);
    }

    public IReadOnlyList<ManifestEntry> Entries { get; }

    public IReadOnlyDictionary<string, ManifestEntry> ByPath { get; }

    public long TotalBytes { get; }

    /// <summary>SHA-256 (hex) of a canonical form: path, size, sha256, mode of every entry.</summary>
    public string Hash { get; }

    public int Count => Entries.Count;

    private static string ComputeHash(IEnumerable<ManifestEntry> entries)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var e in entries)
            hash.AppendData(Encoding.UTF8.GetBytes($"{e.Path}\0{e.Size}\0{e.Sha256}\0{Convert.ToString(e.Mode, 8)}\n"));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Reads a site directory: <see cref="Scan"/>, then <see cref="CreateAsync(SiteScan, CancellationToken)"/>.</summary>
    public static Task<Manifest> CreateAsync(string siteDirectory, CancellationToken cancellationToken) =>
        CreateAsync(Scan(siteDirectory), cancellationToken);

    /// <summary>Hashes the scanned files: <see cref="CreateAsync(SiteScan, ISiteContentSink?, CancellationToken)"/> with no sink.</summary>
    public static Task<Manifest> CreateAsync(SiteScan scan, CancellationToken cancellationToken) =>
        CreateAsync(scan, sink: null, cancellationToken);

    /// <summary>
    /// Hashes the scanned files in parallel, each opened and read once. A file is opened only once its type was checked,
    /// and again on the open descriptor (<see cref="SiteFile.OpenRegular"/>); its size is the bytes read. The files
    /// <paramref name="sink"/> wants are read whole and handed to it: the same bytes that were hashed.
    /// </summary>
    public static async Task<Manifest> CreateAsync(SiteScan scan, ISiteContentSink? sink, CancellationToken cancellationToken)
    {
        var files = scan.Files;
        var entries = new ManifestEntry[files.Count];
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var next = -1;
        // Synchronous reads, one worker per core (at least two: a read waiting on the disk leaves the core to the other),
        // each with its own buffer: no per-file buffer, hash object or async state machine. Each on a thread of its own,
        // not the pool's: the pool has a thread per core, and workers that keep them busy would leave the SSH handshake's
        // continuations (the connections opened meanwhile) waiting for the pool to grow.
        var workers = Enumerable.Range(0, Math.Min(Math.Max(2, Environment.ProcessorCount), Math.Max(1, files.Count)))
            .Select(_ => Task.Factory.StartNew(() =>
            {
                // Below the handshakes' priority (the connections are opened meanwhile): see BackgroundPriority.
                Processes.BackgroundPriority.LowerCurrentThread();
                try
                {
                    var reader = new FileHasher(scan, sink);
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < files.Count)
                    {
                        failed.Token.ThrowIfCancellationRequested();
                        entries[i] = reader.Hash(files[i]);
                    }
                    reader.Complete();
                }
                catch
                {
                    failed.Cancel(); // the other workers stop at their next file
                    throw;
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))
            .ToArray();
        try
        {
            await Task.WhenAll(workers);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested
            && workers.FirstOrDefault(w => w.IsFaulted && w.Exception!.InnerException is not OperationCanceledException) is { } first)
        {
            // One worker failed and the others stopped because of it: its error is the one to report.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first.Exception!.InnerException!);
        }
        return new Manifest(entries);
    }

    /// <summary>One hashing thread's state: a read buffer and a hash for the rare file larger than the buffer.</summary>
    private sealed class FileHasher(SiteScan scan, ISiteContentSink? sink)
    {
        // Files up to this size are hashed in one call; larger ones that no sink wants are streamed through it.
        private const int ChunkSize = 1024 * 1024;
        private readonly ISiteContentWorker? _worker = sink?.CreateWorker();
        private byte[] _buffer = new byte[128 * 1024];
        private IncrementalHash? _large;

        public ManifestEntry Hash(SiteScan.File file)
        {
            var whole = sink?.Wants(file.Path) == true;
            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            long size;
            try
            {
                using var handle = scan.OpenHandle(file, out var expected);
                // Room for the whole file and one byte more, so that the read that finds its end finds it in the buffer.
                var wanted = whole ? expected + 1 : Math.Min(expected + 1, ChunkSize);
                if (wanted > Array.MaxLength)
                    throw new ReleaseException($"The site's file {file.Path} is too large to check ({expected} bytes).", ReleaseFailure.BadInput);
                if (wanted > _buffer.Length) _buffer = new byte[Math.Max(wanted, Math.Min(_buffer.Length * 2L, Array.MaxLength))];
                var filled = 0;
                long offset = 0;
                int read;
                while ((read = RandomAccess.Read(handle, _buffer.AsSpan(filled), offset)) > 0)
                {
                    filled += read;
                    offset += read;
                    if (filled < _buffer.Length) continue;
                    if (whole)
                    {
                        // It grew since it was opened: read on, as the stream would.
                        if (_buffer.Length == Array.MaxLength)
                            throw new ReleaseException($"The site's file {file.Path} is too large to check.", ReleaseFailure.BadInput);
                        Array.Resize(ref _buffer, (int)Math.Min(_buffer.Length * 2L, Array.MaxLength));
                        continue;
                    }
                    (_large ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256)).AppendData(_buffer.AsSpan(0, filled));
                    filled = 0;
                }
                size = offset;
                if (size == filled)
                {
                    SHA256.HashData(_buffer.AsSpan(0, filled), digest);
                    if (whole) _worker!.Accept(file.Path, _buffer.AsSpan(0, filled));
                }
                else
                {
                    _large!.AppendData(_buffer.AsSpan(0, filled));
                    _large.GetHashAndReset(digest);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw Changed(file.Path, e);
            }
            return new ManifestEntry(file.Path, size, Convert.ToHexStringLower(digest), file.Mode);
        }

        public void Complete()
        {
            _large?.Dispose();
            _worker?.Complete();
        }
    }

    /// <summary>
    /// Lists a site directory without opening any file: only regular files and directories go out. Refused (exit 2),
    /// naming the path: a FIFO, socket or device (opening one blocks or has side effects, and it is no web content);
    /// a symlink that resolves outside the site directory (it would publish whatever it points at, a key file say);
    /// a broken symlink; a symlink to a directory. A symlink to a regular file inside the site deploys that file's content.
    /// </summary>
    public static SiteScan Scan(string siteDirectory)
    {
        var given = Path.GetFullPath(siteDirectory);
        if (!Directory.Exists(given) || SiteFile.RealPath(given) is not { } root)
            throw new ReleaseException($"The site directory {given} does not exist; build the site first or pass --site-dir.", ReleaseFailure.BadInput);
        var files = new List<SiteScan.File>();
        Walk(root, root, "", files);
        return new SiteScan(root, files);
    }

    private static void Walk(string root, string directory, string prefix, List<SiteScan.File> files)
    {
        // Dot files count (.well-known/, .nojekyll): skip nothing by attribute. Names only (no FileSystemInfo per entry):
        // what each entry is comes from lstat, below.
        var options = new EnumerationOptions { AttributesToSkip = 0, RecurseSubdirectories = false, IgnoreInaccessible = false };
        var names = new System.IO.Enumeration.FileSystemEnumerable<string>(directory, (ref System.IO.Enumeration.FileSystemEntry entry) => entry.FileName.ToString(), options).ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        foreach (var name in names)
        {
            var relative = prefix + name;
            var full = Path.Join(directory, name);
            var (kind, mode) = SiteFile.Lstat(full);
            switch (kind)
            {
                case SiteFileKind.Directory:
                    Walk(root, full, relative + "/", files);
                    break;
                case SiteFileKind.Regular:
                    files.Add(new SiteScan.File(relative, null, SiteFile.NormalizedFileMode(mode)));
                    break;
                case SiteFileKind.Symlink:
                    files.Add(Link(root, full, relative));
                    break;
                case SiteFileKind.Missing:
                    throw Changed(relative);
                default:
                    throw new ReleaseException($"The site contains {SiteFile.Describe(kind)}: {relative}. Only regular files and directories are deployed; "
                        + "remove it from the site directory (it is never opened).", ReleaseFailure.BadInput);
            }
        }
    }

    private static SiteScan.File Link(string root, string full, string relative)
    {
        var written = new FileInfo(full).LinkTarget ?? "?";
        var target = SiteFile.RealPath(full);
        if (target is null)
            throw new ReleaseException($"The site contains a broken symbolic link: {relative} -> {written}.", ReleaseFailure.BadInput);
        if (!SiteScan.IsInside(root, target))
            throw new ReleaseException($"The site's symbolic link {relative} points outside the site directory ({written}, resolved to {target}); "
                + "it would publish that file. Copy the content into the site instead, or remove the link.", ReleaseFailure.BadInput);
        var (kind, mode) = SiteFile.Lstat(target);
        return kind switch
        {
            SiteFileKind.Regular => new SiteScan.File(relative, target, SiteFile.NormalizedFileMode(mode)),
            SiteFileKind.Directory => throw new ReleaseException($"The site contains a symbolic link to a directory ({relative} -> {written}); replace it with real files.", ReleaseFailure.BadInput),
            SiteFileKind.Missing => throw Changed(relative),
            _ => throw new ReleaseException($"The site's symbolic link {relative} points at {SiteFile.Describe(kind)} ({written}). Only regular files and directories are deployed; "
                + "remove it from the site directory.", ReleaseFailure.BadInput),
        };
    }

    /// <summary>The error when a file changed between the scan, the hashing and the stream.</summary>
    public static ReleaseException Changed(string path, Exception? inner = null) =>
        new($"the site changed while deploying: {path}{(inner is null ? "" : $" ({inner.Message})")}; deploy again once the site is built.", ReleaseFailure.BadInput, inner);

    public string ToJson(ReleaseInfo info) => JsonSerializer.Serialize(new ManifestDocument(
        info.ReleaseId, info.Commit, info.CreatedAt, Hash, Count, TotalBytes,
        Entries.Select(e => new ManifestFile(e.Path, e.Size, e.Sha256, Convert.ToString(e.Mode, 8).PadLeft(4, '0'))).ToArray()),
        ReleaseJson.Default.ManifestDocument);

    /// <summary>Parses a stored manifest and checks that its entries still hash to the recorded value.</summary>
    public static (Manifest Manifest, ReleaseInfo Info) FromJson(string json)
    {
        var doc = JsonSerializer.Deserialize(json, ReleaseJson.Default.ManifestDocument)
            ?? throw new FormatException("empty manifest");
        if (doc.Files is null || doc.Release is null || doc.Hash is null)
            throw new FormatException("the manifest lacks its files, release or hash");
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in doc.Files)
        {
            // What a stored manifest says is only trusted as far as it is well-formed.
            if (f is null || string.IsNullOrEmpty(f.Path) || f.Size < 0 || f.Sha256 is not { Length: 64 } || !f.Sha256.All(char.IsAsciiHexDigitLower)
                || f.Mode is not { Length: > 0 and <= 4 } || !f.Mode.All(c => c is >= '0' and <= '7'))
                throw new FormatException($"the manifest has a malformed entry ({f?.Path})");
            if (!paths.Add(f.Path))
                throw new FormatException($"the manifest names {f.Path} twice");
        }
        var manifest = new Manifest(doc.Files.Select(f => new ManifestEntry(f.Path, f.Size, f.Sha256, Convert.ToInt32(f.Mode, 8))));
        if (!string.Equals(manifest.Hash, doc.Hash, StringComparison.Ordinal))
            throw new FormatException($"manifest of {doc.Release} does not match its recorded hash");
        return (manifest, new ReleaseInfo(doc.Release, doc.Commit, doc.Created));
    }
}

/// <summary>What a release records besides its files.</summary>
public sealed record ReleaseInfo(string ReleaseId, string? Commit, DateTimeOffset CreatedAt);

/// <summary>The small per-release summary stored next to the manifest (.deploy/manifests/&lt;id&gt;.meta), read by listings.</summary>
public sealed record ReleaseMeta(
    [property: JsonPropertyName("release")] string Release,
    [property: JsonPropertyName("commit")] string? Commit,
    [property: JsonPropertyName("created")] DateTimeOffset Created,
    [property: JsonPropertyName("hash")] string Hash,
    [property: JsonPropertyName("files")] int Files,
    [property: JsonPropertyName("bytes")] long Bytes);

internal sealed record ManifestDocument(
    [property: JsonPropertyName("release")] string Release,
    [property: JsonPropertyName("commit")] string? Commit,
    [property: JsonPropertyName("created")] DateTimeOffset Created,
    [property: JsonPropertyName("hash")] string Hash,
    [property: JsonPropertyName("count")] int Count,
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("files")] ManifestFile[] Files);

internal sealed record ManifestFile(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("mode")] string Mode);

[JsonSerializable(typeof(ManifestDocument))]
[JsonSerializable(typeof(ReleaseMeta))]
internal sealed partial class ReleaseJson : JsonSerializerContext;
