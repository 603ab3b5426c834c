using Cake.Core;

namespace Cake.Frosting;

public interface IFrostingContext : ICakeContext;

/// <summary>The base of a typed build context, as in Cake.Frosting.</summary>
public class FrostingContext(ICakeContext context) : CakeContextAdapter(context), IFrostingContext;
