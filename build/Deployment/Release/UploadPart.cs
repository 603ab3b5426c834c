namespace Build.Deployment.Release;

/// <summary>
/// One of the parallel streams of an upload: a contiguous run of the manifest's paths (so the parts share
/// few directories), its hard links and its files to send. Part 0 also carries the manifest and meta.
/// </summary>
public sealed record UploadPart(int Index, IReadOnlyList<ManifestEntry> Link, IReadOnlyList<ManifestEntry> Send)
{
    public bool CarriesManifest => Index == 0;

    /// <summary>Every directory holding one of this part's files, parents first.</summary>
    public IEnumerable<string> Directories() => ReleaseStream.Directories(Link.Concat(Send));

    /// <summary>
    /// Splits a plan into at most <paramref name="maxParts"/> parts of about equal server-side work, and
    /// into fewer when a part would hold under <paramref name="minEntries"/> files (a small upload gains
    /// nothing from a second stream). The work of an entry on the server is one file created or linked,
    /// one directory created for each directory it is the first in, and its bytes when sent.
    /// </summary>
    public static IReadOnlyList<UploadPart> Split(Manifest manifest, DeltaPlan plan, int maxParts, int minEntries)
    {
        var parts = Math.Clamp(manifest.Count / Math.Max(1, minEntries), 1, Math.Max(1, maxParts));
        var sent = plan.Send.Select(e => e.Path).ToHashSet(StringComparer.Ordinal);
        var weights = Weights(manifest.Entries, sent);
        var total = weights.Sum();
        var result = new List<UploadPart>(parts);
        var link = new List<ManifestEntry>();
        var send = new List<ManifestEntry>();
        double done = 0;
        for (var i = 0; i < manifest.Count; i++)
        {
            // Cut before an entry whose middle lies past this part's share of the work; the last part takes the rest.
            if (result.Count < parts - 1 && link.Count + send.Count > 0 && done + weights[i] / 2 > total * (result.Count + 1) / parts)
            {
                result.Add(new UploadPart(result.Count, link, send));
                link = [];
                send = [];
            }
            var entry = manifest.Entries[i];
            (sent.Contains(entry.Path) ? send : link).Add(entry);
            done += weights[i];
        }
        result.Add(new UploadPart(result.Count, link, send));
        return result;
    }

    private const double BytesPerFileCreate = 32 * 1024;

    private static double[] Weights(IReadOnlyList<ManifestEntry> entries, HashSet<string> sent)
    {
        var weights = new double[entries.Count];
        var previous = "";
        for (var i = 0; i < entries.Count; i++)
        {
            var path = entries[i].Path;
            weights[i] = 1 + NewDirectories(previous, path) + (sent.Contains(path) ? entries[i].Size / BytesPerFileCreate : 0);
            previous = path;
        }
        return weights;
    }

    /// <summary>Directories of <paramref name="path"/> that the previous path (in ordinal order) did not have.</summary>
    private static int NewDirectories(string previous, string path)
    {
        var common = 0;
        var limit = Math.Min(previous.LastIndexOf('/'), path.LastIndexOf('/'));
        for (var i = 0; i <= limit && previous[i] == path[i]; i++)
            if (path[i] == '/') common++;
        return path.Count(c => c == '/') - common;
    }
}
