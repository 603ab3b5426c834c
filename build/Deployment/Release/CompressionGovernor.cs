namespace Build.Deployment.Release;

/// <summary>
/// Chooses the deflate level of each unit of an upload (a gzip member of <see cref="UploadUnits.TarBytesPerUnit"/> tar
/// bytes) from what the previous units measured: the time spent producing one (reading, hashing, compressing: the CPU)
/// and the time spent waiting to hand it on (the link, or every server sharing the stream, was not ready for more).
/// When the link is the bottleneck the CPU idles anyway, so the rest is compressed harder, up to level 9; when the CPU
/// is, the level goes down, to 1.
/// </summary>
/// <remarks>
/// Writes wait only once the link's buffers are full (an SSH channel's window is 2 MB with OpenSSH, plus a shared stream's
/// buffer): until then, not waiting proves nothing, so the level goes down only after a wait was seen or more than
/// <paramref name="headroom"/> bytes went out without one. That is also why the start is zlib's default, level 6, and not
/// level 1: a blog's upload is often sent before those buffers fill, and on the benchmark's site level 6 is 26% smaller
/// than level 2 (3.5 MB instead of 4.7 MB of 41 MB) for 0.14 s more CPU, a second less on a 20 Mbit/s uplink.
/// </remarks>
public sealed class CompressionGovernor(int start = CompressionGovernor.StartLevel, long headroom = CompressionGovernor.ChannelWindow)
{
    public const int StartLevel = 6;
    public const int MinLevel = 1;
    public const int MaxLevel = 9;

    /// <summary>OpenSSH's window of a session channel: that much is accepted before the link is felt.</summary>
    public const long ChannelWindow = 2L << 20;

    private readonly List<int> history = [];
    private long sent;

    /// <summary>The level for the next unit.</summary>
    public int Level { get; private set; } = Math.Clamp(start, MinLevel, MaxLevel);

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
            Level = Math.Min(MaxLevel, Level + 1);
        }
        else if ((LinkSeen || sent > headroom) && waiting * 4 < producing)
        {
            // The link takes what is produced with time to spare: compressing is what the upload waits for.
            Level = Math.Max(MinLevel, Level - 1);
        }
    }
}
