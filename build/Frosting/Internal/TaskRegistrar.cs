using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Cake.Core;
using Cake.Core.Diagnostics;

namespace Cake.Frosting.Internal;

/// <summary>Finds Frosting tasks and registers them, with their attributes and overrides, on the Cake engine.</summary>
internal static class TaskRegistrar
{
    /// <summary>Why reflecting over task classes is safe in the trimmed native program.</summary>
    public const string Rooted = "The assemblies with tasks are kept whole (TrimmerRootAssembly in Build.csproj): their types, constructors and methods are all there.";

    /// <summary>Public concrete task classes, as Cake.Frosting finds them (it only looks at exported types).</summary>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Rooted)]
    public static IEnumerable<Type> FindTasks(IEnumerable<Assembly> assemblies) =>
        assemblies.Distinct()
            .SelectMany(assembly => assembly.GetExportedTypes())
            .Where(type => type is { IsClass: true, IsAbstract: false, ContainsGenericParameters: false }
                && typeof(IFrostingTask).IsAssignableFrom(type));

    public static string NameOf(Type task) => task.GetCustomAttribute<TaskNameAttribute>()?.Name ?? task.Name;

    public static void Register(ICakeEngine engine, ICakeContext context, IEnumerable<IFrostingTask> tasks, ICakeLog log)
    {
        foreach (var task in tasks)
        {
            var type = task.GetType();
            var name = NameOf(type);
            if (!IsFrostingBased(type))
            {
                // As Cake.Frosting, which cannot tell what such a class overrides.
                throw new FrostingException($"Task '{name}' ({type.FullName}) implements {nameof(IFrostingTask)} directly: "
                    + $"derive it from {nameof(FrostingTask)}<TContext> or {nameof(AsyncFrostingTask)}<TContext>.");
            }

            var contextType = ContextTypeOf(type);
            if (!contextType.IsInstanceOfType(context))
            {
                log.Warning("Task '{0}' is not registered: it needs a context of type {1}, and the context is a {2}.",
                    name, contextType.FullName ?? contextType.Name, context.GetType().FullName ?? context.GetType().Name);
                continue;
            }

            log.Debug("Registering task: {0}", name);
            var builder = engine.RegisterTask(name);

            if (type.GetCustomAttribute<TaskDescriptionAttribute>()?.Description is { Length: > 0 } description)
            {
                builder.Description(description);
            }

            // Like Frosting, wire only what the task overrides: an OnError handler, once registered,
            // makes Cake treat the failure as handled, so an empty one must not be registered.
            if (IsOverridden(type, "Run") || IsOverridden(type, "RunAsync"))
            {
                builder.Does(() => task.RunAsync(context));
            }

            if (IsOverridden(type, "ShouldRun"))
            {
                builder.WithCriteria(
                    () =>
                    {
                        var run = task.ShouldRun(context);
                        if (!run)
                        {
                            // Cake itself says so only at verbose level; a skipped task should be visible.
                            log.Information("Skipping task {0}: {1}", name, task.SkippedMessage is { Length: > 0 } why ? why : "ShouldRun returned false.");
                        }

                        return run;
                    },
                    task.SkippedMessage is { Length: > 0 } skipped ? skipped : "ShouldRun returned false.");
            }

            if (type.GetCustomAttribute<ContinueOnErrorAttribute>() is not null)
            {
                builder.ContinueOnError();
            }

            if (IsOverridden(type, "OnError"))
            {
                builder.OnError(exception => task.OnError(exception, context));
            }

            if (IsOverridden(type, "Finally"))
            {
                builder.Finally(() => task.Finally(context));
            }

            foreach (var dependency in type.GetCustomAttributes<IsDependentOnAttribute>())
            {
                builder.IsDependentOn(NameOfTask(dependency.Task, name, "depends on"));
            }

            foreach (var dependee in type.GetCustomAttributes<IsDependeeOfAttribute>())
            {
                builder.IsDependeeOf(NameOfTask(dependee.Task, name, "is a dependee of"));
            }
        }
    }

    private static string NameOfTask(Type task, string dependent, string relation) =>
        typeof(IFrostingTask).IsAssignableFrom(task)
            ? NameOf(task)
            : throw new CakeException($"Task '{dependent}' {relation} '{task.FullName}', which is not a Frosting task.");

    /// <summary>The T of FrostingTask&lt;T&gt; / AsyncFrostingTask&lt;T&gt;.</summary>
    private static Type ContextTypeOf(Type type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current.IsGenericType
                && (current.GetGenericTypeDefinition() == typeof(FrostingTask<>)
                    || current.GetGenericTypeDefinition() == typeof(AsyncFrostingTask<>)))
            {
                return current.GetGenericArguments()[0];
            }
        }

        return typeof(ICakeContext);
    }

    /// <summary>Whether the task class overrides the named virtual of its Frosting base class.</summary>
    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = Rooted)]
    private static bool IsOverridden(Type type, string method)
    {
        return type.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.Name == method && m.IsVirtual)
            .Any(m => m.GetBaseDefinition().DeclaringType is { IsGenericType: true } declaring
                && IsFrostingBase(declaring.GetGenericTypeDefinition())
                && !IsFrostingBase(m.DeclaringType!.IsGenericType ? m.DeclaringType.GetGenericTypeDefinition() : m.DeclaringType));
    }

    private static bool IsFrostingBased(Type type)
    {
        for (var current = type.BaseType; current is not null; current = current.BaseType)
        {
            if (current.IsGenericType && IsFrostingBase(current.GetGenericTypeDefinition()))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsFrostingBase(Type definition) =>
        definition == typeof(FrostingTask<>) || definition == typeof(AsyncFrostingTask<>);
}
