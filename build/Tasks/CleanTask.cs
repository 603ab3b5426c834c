using Build.Sandbox;
using Build.Site;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Clean")]
[TaskDescription("Removes site/public, site/db.json and artifacts/; stops the local sandbox and removes .sandbox/")]
public sealed class CleanTask : AsyncFrostingTask<BuildContext>
{
    public override async Task RunAsync(BuildContext context)
    {
        if (Directory.Exists(context.SiteSource)) SiteBuilder.DeleteOutput(context.SiteSource);
        if (Directory.Exists(context.Artifacts)) Directory.Delete(context.Artifacts, recursive: true);
        context.Information("Removed {0}, {1} and {2}", Path.Join(context.SiteSource, "public"), Path.Join(context.SiteSource, "db.json"), context.Artifacts);
        await new SandboxTargets(context).CleanAsync();
    }
}
