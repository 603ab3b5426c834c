using Cake.Core;

namespace Cake.Frosting;

public abstract class FrostingTeardown : FrostingTeardown<ICakeContext>;

public abstract class FrostingTeardown<TContext> : IFrostingTeardown where TContext : ICakeContext
{
    public abstract void Teardown(TContext context, ITeardownContext info);

    void IFrostingTeardown.Teardown(ICakeContext context, ITeardownContext info) => Teardown((TContext)context, info);
}
