using Build.Testing;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Test")]
[TaskDescription("Checks the tailnet policy (CheckPolicy), then runs the unit and integration tests (dotnet test on tests/*.Tests)")]
[IsDependentOn(typeof(CheckPolicyTask))]
public sealed class TestTask : FrostingTask<BuildContext>
{
    public override void Run(BuildContext context) => new TestRunner(context).Run();
}
