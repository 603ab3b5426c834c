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
/// The manifest it hashes is the deploy's own (<see cref="Manifest"/>), and a check and its hash are one
/// read of the site (<see cref="SitePass"/>): each file is opened and read once.
/// </summary>
/// <param name="writesRecord">True in the build (it records its check); false for an already-built site (it reads one).</param>
public sealed class SiteCheck(string siteDirectory, SiteConfig config, string recordPath, bool writesRecord, Action<string> log, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Hashes and checks the site (or verifies the record); the manifest task is handed on to the deploy.</summary>
    public (Task<Manifest> Manifest, Task<(SiteCheckOutcome Outcome, LinkCheckResult? Result)> Check) Start(CancellationToken cancellationToken)
    {
        var manifest = new TaskCompletionSource<Manifest>(TaskCreationOptions.RunContinuationsAsynchronously);
        var check = Task.Run(async () =>
        {
            try
            {
                return await RunAsync(manifest, cancellationToken);
            }
            catch (Exception e)
            {
                // Whoever awaits the manifest learns why there is none (a no-op once it was set).
                if (e is OperationCanceledException) manifest.TrySetCanceled(cancellationToken);
                else manifest.TrySetException(e);
                throw;
            }
        }, CancellationToken.None);
        return (manifest.Task, check);
    }

    private async Task<(SiteCheckOutcome, LinkCheckResult?)> RunAsync(TaskCompletionSource<Manifest> manifest, CancellationToken cancellationToken)
    {
        SiteCheckRecord? record = null;
        if (writesRecord)
        {
            // A record of an earlier build must not outlive a check that fails now.
            if (File.Exists(recordPath)) File.Delete(recordPath);
        }
        else
        {
            record = await SiteCheckRecord.ReadAsync(recordPath, cancellationToken);
        }

        var checker = new LinkChecker(siteDirectory, config, _time);
        SiteScan scan;
        try
        {
            scan = Manifest.Scan(siteDirectory);
        }
        catch (ReleaseException refused)
        {
            // A site the deploy refuses (a symbolic link to a directory, ...): the deploy says why; its links are still checked.
            manifest.TrySetException(refused);
            var alone = await checker.CheckAsync(cancellationToken);
            log($"Checked {siteDirectory}: {alone}");
            if (writesRecord && alone.Succeeded) log("Site check: no record written: the deploy would refuse this site (it will say why).");
            return (SiteCheckOutcome.Checked, alone);
        }

        if (record is not null)
        {
            // Hashed alone: a record that vouches spares reading the pages as such.
            var hashed = await Manifest.CreateAsync(scan, cancellationToken);
            manifest.TrySetResult(hashed);
            if (record.Vouches(hashed.Hash, config))
            {
                log($"Site check: {recordPath} vouches for {siteDirectory} (manifest {hashed.Hash[..8]}, {record.Pages} pages, {record.LinksChecked} links, checked {record.CheckedAt:u}); not checked again.");
                return (SiteCheckOutcome.Vouched, null);
            }
            log($"Site check: {recordPath} is for another site or other rules (manifest {record.ManifestHash[..8]}, this site {hashed.Hash[..8]}); checking every page.");
            var again = await checker.CheckAsync(cancellationToken);
            log($"Checked {siteDirectory}: {again}");
            return (SiteCheckOutcome.Checked, again);
        }

        var (site, result) = await SitePass.RunAsync(scan, checker, cancellationToken);
        manifest.TrySetResult(site);
        log($"Checked {siteDirectory}: {result}");
        if (writesRecord && result.Succeeded)
        {
            await SiteCheckRecord.From(result, site.Hash, config, _time.GetUtcNow()).WriteAsync(recordPath, cancellationToken);
            log($"Site check: recorded in {recordPath} for the deploy.");
        }
        return (SiteCheckOutcome.Checked, result);
    }
}
