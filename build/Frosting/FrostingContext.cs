using Cake.Core;

namespace Cake.Frosting;

/// <summary>The base of a typed build context, as in Cake.Frosting.</summary>
public class FrostingContext(ICakeContext context) : CakeContextAdapter(context), IFrostingContext;
