using Cake.Core;
using Cake.Frosting;

namespace Build;

/// <summary>Setup and teardown around the whole run. The teardown always runs, whatever happened.</summary>
public sealed class BuildLifetime(RunOutcome outcome) : FrostingLifetime<BuildContext>
{
    public override void Setup(BuildContext context, ISetupContext info)
    {
    }

    public override void Teardown(BuildContext context, ITeardownContext info)
    {
        // The failure the run ends with, for the exit code (the host itself only says "failed").
        outcome.Failed(info.ThrownException);
        // Connections no task took (the run stopped before its first connect) close before the tailnet is left.
        context.EarlyConnections?.Dispose();
        context.StartupConnections.Dispose();
        Tailnet.TailnetTeardown.Leave(context);
    }
}
