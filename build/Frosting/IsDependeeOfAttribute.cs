namespace Cake.Frosting;

/// <summary>The task runs before <see cref="Task"/> (a reverse dependency).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class IsDependeeOfAttribute(Type type) : Attribute
{
    public Type Task { get; } = type;
}
