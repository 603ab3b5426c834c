using Build.Deployment.Progress;
using Build.Settings;
using Build.Site;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("CheckSite")]
[TaskDescription("Checks every internal link of the built site, its home page and its feed")]
[IsDependentOn(typeof(GenerateSiteTask))]
[UsesSettings(typeof(SiteSettings))]
public sealed class CheckSiteTask : AsyncFrostingTask<BuildContext>
{
    public override async Task RunAsync(BuildContext context)
    {
        var site = context.SiteOutput;
        if (!Directory.Exists(site))
        {
            throw context.BuildsSite
                ? new PipelineException($"{site} does not exist: run the GenerateSite task first.")
                : new SettingsException($"--site-dir (or DEPLOY_SITE_DIR) names {site}, which does not exist. Give the directory of an already-built site, or leave the setting out to build site/.");
        }

        // An empty directory is bad input, not a site with broken links: exit 2, before anything is checked or sent.
        if (!context.BuildsSite && !Directory.EnumerateFiles(site, "*", SearchOption.AllDirectories).Any())
            throw new SettingsException($"--site-dir (or DEPLOY_SITE_DIR) names {site}, which holds no files. Give the directory of an already-built site; an empty one would take every page off the servers.");

        var configFile = Path.Join(context.SiteSource, "_config.yml");
        SiteConfig config;
        if (!context.BuildsSite && !File.Exists(configFile))
        {
            // A site built elsewhere, deployed from outside the blog's repository: its links are still checked.
            context.Information("No {0}: checking the links of {1} with Hexo's defaults (root /, no feed required).", configFile, site);
            config = SiteConfig.Default with { Feeds = [] };
        }
        else
        {
            config = SiteConfig.Load(configFile);
        }
        // The deploy needs the site's manifest anyway: hashed once, here, and handed on.
        var check = new SiteCheck(site, config, SiteCheckRecord.PathIn(context.Artifacts), writesRecord: context.BuildsSite, m => context.Information("{0}", m));
        context.Clock.Mark(RunMark.CheckStart);
        context.Clock.Mark(RunMark.HashStart);
        var (manifest, checking) = check.Start(context.CancellationToken);
        context.SiteManifest = manifest;
        _ = manifest.ContinueWith(_ => context.Clock.Mark(RunMark.HashEnd), TaskScheduler.Default);
        var verdict = VerdictAsync(context, site, checking);
        if (context.DeployFollows)
        {
            // The deploy awaits the verdict once connected, before it locks anything: finding and connecting to the
            // servers overlaps the check, and a site that fails it still changes nothing on any server.
            context.SiteVerdict = verdict;
            context.Information("Checking {0} while the deploy finds and connects to the servers.", site);
            return;
        }
        await verdict;
    }

    private static async Task VerdictAsync(BuildContext context, string site, Task<(SiteCheckOutcome Outcome, LinkCheckResult? Result)> checking)
    {
        var (_, result) = await checking;
        context.Clock.Mark(RunMark.CheckEnd);
        if (result is null || result.Succeeded) return;

        var lines = result.SiteProblems.Concat(result.BrokenLinks.Select(b => b.ToString()));
        throw new PipelineException(
            $"The site in {site} has {result.BrokenLinks.Count} broken internal link(s) and {result.SiteProblems.Count} other problem(s):\n" +
            string.Join('\n', lines));
    }
}
