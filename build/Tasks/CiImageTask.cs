using Build.Docker;
using Build.Settings;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("CiImage")]
[TaskDescription("Builds and pushes the CI image (build/ci.Dockerfile) tagged with its hash, unless the registry already has it")]
[UsesSettings(typeof(CiImageSettings))]
public sealed class CiImageTask : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context) =>
        new CiImagePublisher(context, line => context.Information("{0}", line))
            .Publish(context.CiImage, Path.Join(context.Root, "build", "ci.Dockerfile"));
}
