namespace Build.Settings;

/// <summary>
/// Declares the settings groups a task reads. Before anything runs, the context resolves exactly the
/// groups of the tasks the chosen targets will run, so that a bad value exits 2 up front.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class UsesSettingsAttribute(params Type[] groups) : Attribute
{
    public IReadOnlyList<Type> Groups { get; } = groups;
}
