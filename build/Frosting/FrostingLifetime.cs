using Cake.Core;

namespace Cake.Frosting;

public abstract class FrostingLifetime : FrostingLifetime<ICakeContext>;

public abstract class FrostingLifetime<TContext> : IFrostingLifetime where TContext : ICakeContext
{
    // Abstract, as in Cake.Frosting, so that code written against this host compiles against the package.
    public abstract void Setup(TContext context, ISetupContext info);
    public abstract void Teardown(TContext context, ITeardownContext info);

    void IFrostingSetup.Setup(ICakeContext context, ISetupContext info) => Setup((TContext)context, info);
    void IFrostingTeardown.Teardown(ICakeContext context, ITeardownContext info) => Teardown((TContext)context, info);
}
