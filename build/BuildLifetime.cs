using Cake.Core;
using Cake.Frosting;

namespace Build;

/// <summary>Setup and teardown around the whole run. The teardown always runs, whatever happened.</summary>
public sealed class BuildLifetime : FrostingLifetime<BuildContext>
{
    public override void Setup(BuildContext context, ISetupContext info)
    {
    }

    public override void Teardown(BuildContext context, ITeardownContext info)
    {
        Tailnet.TailnetTeardown.Leave(context);
    }
}
