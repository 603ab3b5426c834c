namespace Build.Deployment.Release;

/// <summary>
/// Chooses the deflate level of each unit of an upload (a gzip member of <see cref="UploadUnits.TarBytesPerUnit"/> tar
/// bytes) from what the previous unit measured: the time spent producing it (reading, hashing, compressing: the CPU)
/// and the time spent waiting to hand it on (the link, or the slowest server sharing the stream, was not ready).
/// When the link is the bottleneck the CPU idles anyway, so the rest is compressed harder, up to level 9; when the CPU
/// is, the level goes back down, to 1.
/// </summary>
/// <remarks>
/// An SSH channel accepts its window (2 MB with OpenSSH) before any write waits, so the link shows only once that much is
/// in flight: until a wait was seen, not waiting proves nothing and the level never goes down. That is also why the start
/// is level 4 rather than 1: on the benchmark's site it is 20% smaller than level 2 for 0.07 s more CPU over 41 MB, and
/// most of a blog's upload is sent before the window ever fills.
/// </remarks>
public sealed class CompressionGovernor(int start = CompressionGovernor.StartLevel)
{
    public const int StartLevel = 4;
    public const int MinLevel = 1;
    public const int MaxLevel = 9;

    /// <summary>The level for the next unit.</summary>
    public int Level { get; private set; } = Math.Clamp(start, MinLevel, MaxLevel);

    /// <summary>Whether any unit had to wait for the link: from then on, not waiting means the CPU is the bottleneck.</summary>
    public bool LinkSeen { get; private set; }

    /// <summary>Each level the units were compressed at, in order (for the report and tests).</summary>
    public IReadOnlyList<int> History => history;

    private readonly List<int> history = [];

    /// <summary>Records one unit's measurements and moves the level for the next.</summary>
    public void Observe(TimeSpan producing, TimeSpan waiting)
    {
        history.Add(Level);
        if (waiting > producing)
        {
            // The link is slower than compressing at this level: the CPU has time to spare.
            LinkSeen = true;
            Level = Math.Min(MaxLevel, Level + 1);
        }
        else if (LinkSeen && waiting * 4 < producing)
        {
            // The link takes what is produced with time to spare: compressing is what the upload waits for.
            Level = Math.Max(MinLevel, Level - 1);
        }
    }
}
