namespace Build.Deployment.Release;

/// <summary>
/// What one server needs: files whose content or mode changed or that are new are sent; unchanged ones are
/// hard-linked from the current release, unless the server reported them edited in place since that release was
/// sealed (then they are sent again, and <see cref="EditedOnServer"/> names them for a warning); files the new site
/// lacks are left out (counted as removed).
/// </summary>
public sealed class DeltaPlan
{
    private DeltaPlan(string? baseReleaseId, IReadOnlyList<ManifestEntry> send, IReadOnlyList<ManifestEntry> link, int removed, bool unchanged,
        IReadOnlyList<string>? editedOnServer = null, bool editsAtSeal = false)
    {
        EditedOnServer = editedOnServer ?? [];
        EditsCheckedAtSeal = editsAtSeal && link.Count > 0;
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

    /// <summary>Files of the current release edited in place on the server since it was sealed (paths of its manifest).</summary>
    public IReadOnlyList<string> EditedOnServer { get; }

    /// <summary>
    /// The edited files were not listed (<see cref="RemoteState.EditsAtSeal"/>): the upload's seal checks the linked ones,
    /// and an <see cref="Unchanged"/> plan is not proven until they are listed.
    /// </summary>
    public bool EditsCheckedAtSeal { get; }

    /// <summary>The warning to print when files were edited on the server, or null.</summary>
    public string? Warning => EditedOnServer.Count == 0 ? null
        : $"edited on the server since {BaseReleaseId} was sealed, so sent again instead of linked: "
          + string.Join(", ", EditedOnServer.Take(10).Select(p => ServerText.Clean(p.Replace("\n", "\\n", StringComparison.Ordinal), 200)))
          + (EditedOnServer.Count > 10 ? $" and {EditedOnServer.Count - 10} more" : "");

    /// <param name="editedOnServer">Names the server listed as edited since the current release was sealed, as <c>ls</c>
    /// printed them: a path of the current manifest that matches one (<see cref="ListedForm"/>) is sent, not linked.</param>
    /// <param name="editsAtSeal">The server did not list them: the upload's seal checks (<see cref="EditsCheckedAtSeal"/>).</param>
    public static DeltaPlan Compute(Manifest next, string? currentReleaseId, Manifest? current, IReadOnlyCollection<string>? editedOnServer = null,
        bool editsAtSeal = false)
    {
        if (currentReleaseId is null || current is null)
            return new DeltaPlan(null, next.Entries, [], 0, false);
        var listed = (editedOnServer ?? []).Select(ListedForm).ToHashSet(StringComparer.Ordinal);
        var edited = listed.Count == 0 ? [] : current.Entries.Where(e => listed.Contains(ListedForm(e.Path))).Select(e => e.Path).ToList();
        var editedSet = edited.ToHashSet(StringComparer.Ordinal);
        var send = new List<ManifestEntry>();
        var link = new List<ManifestEntry>();
        foreach (var entry in next.Entries)
        {
            if (current.ByPath.TryGetValue(entry.Path, out var old) && old.SameContentAndMode(entry) && !editedSet.Contains(entry.Path))
                link.Add(entry);
            else
                send.Add(entry);
        }
        var removed = current.Entries.Count(e => !next.ByPath.ContainsKey(e.Path));
        // Same manifest but an edited file still needs a new release: the live one no longer matches its manifest.
        var unchanged = edited.Count == 0 && string.Equals(next.Hash, current.Hash, StringComparison.Ordinal);
        return new DeltaPlan(currentReleaseId, send, link, removed, unchanged, edited, editsAtSeal);
    }

    /// <summary>
    /// A name as the server's <c>ls</c> lists it, loosely: every run of characters outside printable ASCII (and '?')
    /// becomes one '?', since GNU ls -q prints one '?' per byte and BusyBox prints UTF-8 as is. Two paths with the
    /// same form both count as edited: sending a file again is always safe, linking an edited one is not.
    /// </summary>
    internal static string ListedForm(string name)
    {
        var form = new System.Text.StringBuilder(name.Length);
        foreach (var c in name)
        {
            var plain = c is >= ' ' and <= '~' and not '?';
            if (plain) form.Append(c);
            else if (form.Length == 0 || form[^1] != '?') form.Append('?');
        }
        return form.ToString();
    }

    public override string ToString() =>
        Unchanged ? "unchanged" : $"send {Files(Send.Count)} ({Progress.PlainProgress.Bytes(BytesToSend)}), link {Files(Link.Count)}, remove {Files(Removed)}";

    private static string Files(int n) => Reports.DeploySummary.Count(n, "file");
}
