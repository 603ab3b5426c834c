using Build.Deployment.Release;

namespace Build.Site;

/// <summary>How a site came to pass (or not) its check.</summary>
public enum SiteCheckOutcome
{
    /// <summary>Every page was checked.</summary>
    Checked,

    /// <summary>The build's check record vouched for these exact files under the same rules: not checked again.</summary>
    Vouched,
}

/// <summary>
/// The check of a site before it is deployed, done once: the build checks every page and records the
/// result with the site's manifest hash (<see cref="SiteCheckRecord"/>); a deploy of an already-built
/// site trusts a record that vouches for exactly its files and rules, and checks every page otherwise.
/// The manifest it hashes is the deploy's own (<see cref="Manifest"/>), so the site is hashed once.
/// </summary>
/// <param name="writesRecord">True in the build (it records its check); false for an already-built site (it reads one).</param>
public sealed class SiteCheck(string siteDirectory, SiteConfig config, string recordPath, bool writesRecord, Action<string> log, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Starts hashing the site, then checks it (or verifies the record); the manifest task is handed on to the deploy.</summary>
    public (Task<Manifest> Manifest, Task<(SiteCheckOutcome Outcome, LinkCheckResult? Result)> Check) Start(CancellationToken cancellationToken)
    {
        var manifest = Task.Run(() => Manifest.CreateAsync(siteDirectory, cancellationToken), cancellationToken);
        return (manifest, RunAsync(manifest, cancellationToken));
    }

    private async Task<(SiteCheckOutcome, LinkCheckResult?)> RunAsync(Task<Manifest> manifest, CancellationToken cancellationToken)
    {
        if (writesRecord)
        {
            // A record of an earlier build must not outlive a check that fails now.
            if (File.Exists(recordPath)) File.Delete(recordPath);
        }
        else if (await SiteCheckRecord.ReadAsync(recordPath, cancellationToken) is { } record && await HashOrNullAsync(manifest) is { } hash)
        {
            if (record.Vouches(hash, config))
            {
                log($"Site check: {recordPath} vouches for {siteDirectory} (manifest {hash[..8]}, {record.Pages} pages, {record.LinksChecked} links, checked {record.CheckedAt:u}); not checked again.");
                return (SiteCheckOutcome.Vouched, null);
            }
            log($"Site check: {recordPath} is for another site or other rules (manifest {record.ManifestHash[..8]}, this site {hash[..8]}); checking every page.");
        }

        var result = await new LinkChecker(siteDirectory, config, _time).CheckAsync(cancellationToken);
        log($"Checked {siteDirectory}: {result}");
        if (writesRecord && result.Succeeded)
        {
            if (await HashOrNullAsync(manifest) is { } hash)
            {
                await SiteCheckRecord.From(result, hash, config, _time.GetUtcNow()).WriteAsync(recordPath, cancellationToken);
                log($"Site check: recorded in {recordPath} for the deploy.");
            }
            else
            {
                log("Site check: no record written: the deploy would refuse this site (it will say why).");
            }
        }
        return (SiteCheckOutcome.Checked, result);
    }

    /// <summary>The manifest's hash, or null for a site the deploy refuses (a symbolic link to a directory, ...).</summary>
    private static async Task<string?> HashOrNullAsync(Task<Manifest> manifest)
    {
        try
        {
            return (await manifest).Hash;
        }
        catch (ReleaseException)
        {
            return null;
        }
    }
}
