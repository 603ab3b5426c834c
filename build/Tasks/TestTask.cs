using Build.Testing;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Test")]
[TaskDescription("Runs the unit and integration tests (dotnet test on tests/*.Tests)")]
public sealed class TestTask : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context) => new TestRunner(context).Run();
}
