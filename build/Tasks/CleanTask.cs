using Build.Site;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Clean")]
[TaskDescription("Removes site/public, site/db.json and artifacts/")]
public sealed class CleanTask : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context)
    {
        SiteBuilder.DeleteOutput(context.SiteSource);
        if (Directory.Exists(context.Artifacts)) Directory.Delete(context.Artifacts, recursive: true);
        context.Information("Removed {0}, {1} and {2}", Path.Join(context.SiteSource, "public"), Path.Join(context.SiteSource, "db.json"), context.Artifacts);
    }
}
