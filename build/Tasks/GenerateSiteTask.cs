using Build.Settings;
using Build.Site;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("GenerateSite")]
[TaskDescription("Generates the blog with the site's own Hexo into site/public/")]
[IsDependentOn(typeof(InstallSiteDependenciesTask))]
[UsesSettings(typeof(SiteSettings))]
public sealed class GenerateSiteTask : AsyncFrostingTask<BuildContext>
{
    public override bool ShouldRun(BuildContext context)
    {
        if (context.BuildsSite) return true;
        context.Information("Skipping GenerateSite: --site-dir {0} is an already-built site.", context.SiteOutput);
        return false;
    }

    public override async Task RunAsync(BuildContext context)
    {
        var builder = new SiteBuilder(
            context.Processes,
            new SiteDependencies(context.SiteSource),
            line => context.Information("{0}", line),
            line => context.Verbose("{0}", line));
        var result = await builder.GenerateAsync(context.CancellationToken);
        context.Information(
            "Generated {0} files into {1}: {2} by Hexo's own count, {3:0.00} s in all.",
            result.Files,
            builder.PublicDirectory,
            result.HexoTime is { } t ? $"{t.TotalSeconds:0.00} s" : "no time",
            result.Elapsed.TotalSeconds);
    }
}
