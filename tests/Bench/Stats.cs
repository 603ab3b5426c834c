namespace Bench;

/// <summary>The arithmetic of the report, kept apart so it is tested on its own.</summary>
public static class Stats
{
    /// <summary>The median; the mean of the two middle values for an even count.</summary>
    public static double Median(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("The median of no value is undefined.", nameof(values));
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>A contender's time over rsync-sequential's; null when there is no usable baseline.</summary>
    public static double? Ratio(double seconds, double? baselineSeconds) =>
        baselineSeconds is { } b && b > 0 ? seconds / b : null;

    /// <summary>
    /// Round trips added when the round-trip time doubles: each round trip costs one more RTT, so
    /// (t at 2·rtt − t at rtt) / rtt counts the sequential round trips of the run.
    /// </summary>
    public static double ExtraRoundTrips(double secondsAtRtt, double secondsAtDoubleRtt, TimeSpan rtt)
    {
        if (rtt <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(rtt), "The round-trip time must be above zero to count round trips.");
        return (secondsAtDoubleRtt - secondsAtRtt) / rtt.TotalSeconds;
    }
}
