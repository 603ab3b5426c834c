using Cake.Core;

namespace Cake.Frosting;

public interface IFrostingTaskSetup
{
    void Setup(ICakeContext context, ITaskSetupContext info);
}

public interface IFrostingTaskTeardown
{
    void Teardown(ICakeContext context, ITaskTeardownContext info);
}

public interface IFrostingTaskLifetime : IFrostingTaskSetup, IFrostingTaskTeardown;
