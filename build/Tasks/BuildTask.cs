using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Build")]
[TaskDescription("Builds the blog into site/public and checks it")]
[IsDependentOn(typeof(CheckSiteTask))]
public sealed class BuildTask : FrostingTask<BuildContext>;
