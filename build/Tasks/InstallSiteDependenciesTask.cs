using Build.Settings;
using Build.Site;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("InstallSiteDependencies")]
[TaskDescription("npm ci in site/, skipped when node_modules already matches package-lock.json")]
[UsesSettings(typeof(SiteSettings))]
public sealed class InstallSiteDependenciesTask : AsyncFrostingTask<BuildContext>
{
    public override bool ShouldRun(BuildContext context)
    {
        if (context.BuildsSite) return true;
        context.Information("Skipping InstallSiteDependencies: --site-dir {0} is an already-built site.", context.SiteOutput);
        return false;
    }

    public override async Task RunAsync(BuildContext context)
    {
        var dependencies = new SiteDependencies(context.SiteSource);
        if (dependencies.WhyInstall() is not { } reason)
        {
            context.Information("node_modules matches package-lock.json: npm ci skipped.");
            return;
        }
        context.Information("npm ci in {0} ({1}).", context.SiteSource, reason);
        var builder = new SiteBuilder(context.Processes, dependencies, line => context.Information("{0}", line), line => context.Verbose("{0}", line));
        await builder.InstallAsync(context.CancellationToken);
    }
}
