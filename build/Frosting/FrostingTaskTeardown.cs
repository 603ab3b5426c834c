using Cake.Core;

namespace Cake.Frosting;

public abstract class FrostingTaskTeardown : FrostingTaskTeardown<ICakeContext>;

public abstract class FrostingTaskTeardown<TContext> : IFrostingTaskTeardown where TContext : ICakeContext
{
    public abstract void Teardown(TContext context, ITaskTeardownContext info);

    void IFrostingTaskTeardown.Teardown(ICakeContext context, ITaskTeardownContext info) => Teardown((TContext)context, info);
}
