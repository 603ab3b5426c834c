using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Cake.Frosting;

namespace Build.Settings;

/// <summary>Which groups a run needs, and resolving them.</summary>
public static class SettingsGroups
{
    // The tasks and settings groups are found and resolved by reflection; the native program keeps them whole.
    private const string Rooted = "The Build assembly is kept whole (TrimmerRootAssembly in Build.csproj): its tasks, groups and their From methods are all there.";

    /// <summary>
    /// The groups declared by <paramref name="targets"/> and every task they run (<see cref="TasksRun"/>).
    /// Unknown targets add nothing: the host reports them.
    /// </summary>
    public static IReadOnlyList<Type> DeclaredBy(IEnumerable<string> targets, Assembly assembly) =>
        TasksRun(targets, assembly)
            .SelectMany(t => t.GetCustomAttributes<UsesSettingsAttribute>().SelectMany(a => a.Groups))
            .Distinct()
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// The tasks a run of <paramref name="targets"/> reaches: the targets, every task they depend on (IsDependentOn)
    /// and every task that declares itself their dependency (IsDependeeOf).
    /// </summary>
    public static IReadOnlySet<Type> TasksRun(IEnumerable<string> targets, Assembly assembly)
    {
        var tasks = Tasks(assembly);
        var byName = tasks.ToDictionary(NameOf, StringComparer.OrdinalIgnoreCase);
        var dependees = tasks
            .SelectMany(t => t.GetCustomAttributes<IsDependeeOfAttribute>().Select(a => (Of: a.Task, Task: t)))
            .ToLookup(p => p.Of, p => p.Task);

        var seen = new HashSet<Type>();
        var pending = new Stack<Type>(targets.Select(name => byName.GetValueOrDefault(name)).OfType<Type>());
        while (pending.TryPop(out var task))
        {
            if (!seen.Add(task)) continue;
            foreach (var dependency in task.GetCustomAttributes<IsDependentOnAttribute>()) pending.Push(dependency.Task);
            foreach (var dependee in dependees[task]) pending.Push(dependee);
        }
        return seen;
    }

    /// <summary>An unknown target is bad input: exit 2, listing the targets there are.</summary>
    public static void RequireKnown(IEnumerable<string> targets, Assembly assembly)
    {
        var known = Tasks(assembly).Select(NameOf).Order(StringComparer.OrdinalIgnoreCase).ToList();
        var unknown = targets.Where(t => !known.Contains(t, StringComparer.OrdinalIgnoreCase)).ToList();
        if (unknown.Count > 0)
            throw new SettingsException($"Unknown target{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown.Select(t => $"'{t}'"))}. Known targets: {string.Join(", ", known)}.");
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Rooted)]
    private static List<Type> Tasks(Assembly assembly) => assembly.GetExportedTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IFrostingTask).IsAssignableFrom(t))
        .ToList();

    /// <summary>Resolves each group through its <c>From</c>; the first bad value throws.</summary>
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Rooted)]
    public static IReadOnlyDictionary<Type, object> Resolve(SettingsSource source, IEnumerable<Type> groups)
    {
        var resolved = new Dictionary<Type, object>();
        foreach (var group in groups)
        {
            if (!group.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ISettingsGroup<>) && i.GenericTypeArguments[0] == group))
                throw new InvalidOperationException($"{group.Name} is named in [UsesSettings] but is not an ISettingsGroup<{group.Name}>.");
            var from = group.GetMethod("From", BindingFlags.Public | BindingFlags.Static, [typeof(SettingsSource)])
                ?? throw new InvalidOperationException($"{group.Name} has no public static From(SettingsSource).");
            resolved[group] = from.Invoke(null, BindingFlags.DoNotWrapExceptions, null, [source], null)!;
        }
        return resolved;
    }

    private static string NameOf(Type task) => task.GetCustomAttribute<TaskNameAttribute>()?.Name ?? task.Name;
}
