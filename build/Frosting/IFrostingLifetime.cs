using Cake.Core;

namespace Cake.Frosting;

public interface IFrostingSetup
{
    void Setup(ICakeContext context, ISetupContext info);
}

public interface IFrostingTeardown
{
    void Teardown(ICakeContext context, ITeardownContext info);
}

public interface IFrostingLifetime : IFrostingSetup, IFrostingTeardown;
