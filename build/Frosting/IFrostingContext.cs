using Cake.Core;

namespace Cake.Frosting;

public interface IFrostingContext : ICakeContext;
