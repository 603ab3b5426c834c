using Build.Sandbox;
using Build.Testing;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Test")]
[TaskDescription("Checks (as root: installs) the OS tools and test account the tests need, checks the tailnet policy (CheckPolicy), then runs the unit and integration tests")]
[IsDependentOn(typeof(CheckPolicyTask))]
public sealed class TestTask : AsyncFrostingTask<BuildContext>
{
    public override async Task RunAsync(BuildContext context)
    {
        await new SandboxTargets(context).EnsurePrerequisitesAsync(PrerequisiteSet.Test);
        new TestRunner(context).Run();
    }
}
