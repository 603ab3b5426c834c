namespace Build.Deployment.Release;

/// <summary>The levels a <see cref="CompressionGovernor"/> moves between for one algorithm, and where it starts.</summary>
public readonly record struct CompressionLevels(int Start, int Min, int Max)
{
    /// <summary>zlib's levels; the start is its default.</summary>
    public static CompressionLevels Gzip => new(6, 1, 9);

    /// <summary>zstd's levels up to 9 (the range measured, see the remarks of <see cref="CompressionGovernor"/>); the start is its default.</summary>
    public static CompressionLevels Zstd => new(3, 1, 9);

    public static CompressionLevels For(StreamCompression compression) => compression switch
    {
        StreamCompression.Gzip => Gzip,
        StreamCompression.Zstd => Zstd,
        _ => new(0, 0, 0),
    };
}

/// <summary>
/// Chooses the level of each unit of an upload (a gzip member or zstd frame of <see cref="UploadUnits.TarBytesPerUnit"/>
/// tar bytes) from what the previous units measured: the time spent producing one (reading, hashing, compressing: the
/// CPU) and the time spent waiting to hand it on (the link, or every server sharing the stream, was not ready for more).
/// When the link is the bottleneck the CPU idles anyway, so the rest is compressed harder, up to the algorithm's
/// <see cref="CompressionLevels.Max"/>; when the CPU is, the level goes down, to its <see cref="CompressionLevels.Min"/>.
/// </summary>
/// <remarks>
/// Writes wait only once the link's buffers are full (an SSH channel's window is 2 MB with OpenSSH, plus a shared stream's
/// buffer): until then, not waiting proves nothing, so the level goes down only after a wait was seen or more than
/// <paramref name="headroom"/> bytes went out without one. That is also why the start is each algorithm's default and
/// not its fastest level: a blog's upload is often sent before those buffers fill. On the benchmark's site (38 MB of
/// tar) gzip level 6 sends 3.53 MB (level 2: 4.7 MB); zstd, in 2 MiB units, sends 2.51 MB at level 1, 2.29 MB at level 3,
/// 2.17 MB at 6 and 2.12 MB at 9, and level 3 costs about 0.18 s of CPU where gzip level 6 costs 0.29 s: zstd starts at 3
/// and moves between 1 and 9 (gzip between 1 and 9, from 6).
/// </remarks>
public sealed class CompressionGovernor(StreamCompression compression = StreamCompression.Gzip, long headroom = CompressionGovernor.ChannelWindow)
{
    /// <summary>OpenSSH's window of a session channel: that much is accepted before the link is felt.</summary>
    public const long ChannelWindow = 2L << 20;

    private readonly List<int> history = [];
    private long sent;

    /// <summary>The algorithm whose levels this governor chooses.</summary>
    public StreamCompression Compression => compression;

    /// <summary>The range the level moves in.</summary>
    public CompressionLevels Levels { get; } = CompressionLevels.For(compression);

    /// <summary>The level for the next unit.</summary>
    public int Level { get; private set; } = CompressionLevels.For(compression).Start;

    /// <summary>Whether any unit had to wait for the link.</summary>
    public bool LinkSeen { get; private set; }

    /// <summary>Each unit's level, in order (for tests and the log).</summary>
    public IReadOnlyList<int> History => history;

    /// <summary>Records one unit of <paramref name="bytes"/> and its measurements, and moves the level for the next.</summary>
    public void Observe(TimeSpan producing, TimeSpan waiting, long bytes)
    {
        history.Add(Level);
        sent += bytes;
        if (waiting > producing)
        {
            // The link is slower than compressing at this level: the CPU has time to spare.
            LinkSeen = true;
            Level = Math.Min(Levels.Max, Level + 1);
        }
        else if ((LinkSeen || sent > headroom) && waiting * 4 < producing)
        {
            // The link takes what is produced with time to spare: compressing is what the upload waits for.
            Level = Math.Max(Levels.Min, Level - 1);
        }
    }
}
