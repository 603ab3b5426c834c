using Build.Deployment.Release;

namespace Build.Site;

/// <summary>
/// Hashes a site and checks its links in one read: the manifest's workers open and read each file once, hash it,
/// and hand a page's (or feed's) bytes to the link checker, whose file list is the manifest's own scan. Half the
/// opens and reads of hashing and checking apart, and a single walk of the tree.
/// </summary>
public static class SitePass
{
    /// <summary>
    /// The manifest of <paramref name="scan"/> and <paramref name="checker"/>'s result for the same files. The scan's
    /// refusals (a FIFO, a symlink out of the site, ...) are <see cref="Manifest.Scan"/>'s: made before this runs.
    /// </summary>
    public static async Task<(Manifest Manifest, LinkCheckResult Result)> RunAsync(SiteScan scan, LinkChecker checker, CancellationToken cancellationToken)
    {
        var pass = checker.Begin(scan.Files.Select(f => f.Path));
        var manifest = await Manifest.CreateAsync(scan, pass, cancellationToken);
        return (manifest, pass.Finish());
    }
}
