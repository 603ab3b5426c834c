using Cake.Core;

namespace Cake.Frosting;

public abstract class FrostingSetup : FrostingSetup<ICakeContext>;

public abstract class FrostingSetup<TContext> : IFrostingSetup where TContext : ICakeContext
{
    public abstract void Setup(TContext context, ISetupContext info);

    void IFrostingSetup.Setup(ICakeContext context, ISetupContext info) => Setup((TContext)context, info);
}
