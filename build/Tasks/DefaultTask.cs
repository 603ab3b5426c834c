using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Default")]
[TaskDescription("Same as Build")]
[IsDependentOn(typeof(BuildTask))]
public sealed class DefaultTask : FrostingTask<BuildContext>;
