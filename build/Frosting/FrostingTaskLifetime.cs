using Cake.Core;

namespace Cake.Frosting;

public abstract class FrostingTaskLifetime : FrostingTaskLifetime<ICakeContext>;

public abstract class FrostingTaskLifetime<TContext> : IFrostingTaskLifetime where TContext : ICakeContext
{
    public abstract void Setup(TContext context, ITaskSetupContext info);
    public abstract void Teardown(TContext context, ITaskTeardownContext info);

    void IFrostingTaskSetup.Setup(ICakeContext context, ITaskSetupContext info) => Setup((TContext)context, info);
    void IFrostingTaskTeardown.Teardown(ICakeContext context, ITaskTeardownContext info) => Teardown((TContext)context, info);
}
