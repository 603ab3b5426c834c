namespace Build.Deployment.Release;

/// <summary>
/// What one server needs: files whose content or mode changed or that are new are sent; unchanged ones are
/// hard-linked from the current release; files the new site lacks are left out (counted as removed).
/// </summary>
public sealed class DeltaPlan
{
    private DeltaPlan(string? baseReleaseId, IReadOnlyList<ManifestEntry> send, IReadOnlyList<ManifestEntry> link, int removed, bool unchanged)
    {
        BaseReleaseId = baseReleaseId;
        Send = send;
        Link = link;
        Removed = removed;
        Unchanged = unchanged;
        BytesToSend = send.Sum(e => e.Size);
    }

    /// <summary>The current release that unchanged files are linked from (null on a first deploy).</summary>
    public string? BaseReleaseId { get; }

    public IReadOnlyList<ManifestEntry> Send { get; }

    public IReadOnlyList<ManifestEntry> Link { get; }

    public int Removed { get; }

    /// <summary>The server already serves exactly this content: nothing to upload or switch.</summary>
    public bool Unchanged { get; }

    public long BytesToSend { get; }

    public static DeltaPlan Compute(Manifest next, string? currentReleaseId, Manifest? current)
    {
        if (currentReleaseId is null || current is null)
            return new DeltaPlan(null, next.Entries, [], 0, false);
        var send = new List<ManifestEntry>();
        var link = new List<ManifestEntry>();
        foreach (var entry in next.Entries)
        {
            if (current.ByPath.TryGetValue(entry.Path, out var old) && old.SameContentAndMode(entry))
                link.Add(entry);
            else
                send.Add(entry);
        }
        var removed = current.Entries.Count(e => !next.ByPath.ContainsKey(e.Path));
        return new DeltaPlan(currentReleaseId, send, link, removed, string.Equals(next.Hash, current.Hash, StringComparison.Ordinal));
    }

    public override string ToString() =>
        Unchanged ? "unchanged" : $"send {Files(Send.Count)} ({Progress.PlainProgress.Bytes(BytesToSend)}), link {Files(Link.Count)}, remove {Files(Removed)}";

    private static string Files(int n) => Reports.DeploySummary.Count(n, "file");
}
