using Cake.Core;

namespace Cake.Frosting;

public abstract class FrostingTaskSetup : FrostingTaskSetup<ICakeContext>;

public abstract class FrostingTaskSetup<TContext> : IFrostingTaskSetup where TContext : ICakeContext
{
    public abstract void Setup(TContext context, ITaskSetupContext info);

    void IFrostingTaskSetup.Setup(ICakeContext context, ITaskSetupContext info) => Setup((TContext)context, info);
}
