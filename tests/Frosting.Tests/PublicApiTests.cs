using System.Reflection;
using System.Text;
using Cake.Frosting;

namespace Frosting.Tests;

/// <summary>
/// Pins build/Frosting's public API to PublicApi.txt, so that drift from the Cake.Frosting package is
/// seen in review. After an intended change: UPDATE_PUBLIC_API=1 dotnet test --filter PublicApiTests.
/// </summary>
public sealed class PublicApiTests
{
    private static string ListingPath => Path.Join(ProjectDirectory, "PublicApi.txt");

    private static string ProjectDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Join(dir.FullName, "Frosting.Tests.csproj"))) return dir.FullName;
            }
            throw new DirectoryNotFoundException("tests/Frosting.Tests not found above " + AppContext.BaseDirectory);
        }
    }

    [Fact]
    public void The_public_API_matches_the_checked_in_listing()
    {
        var actual = Listing(typeof(CakeHost).Assembly);
        if (Environment.GetEnvironmentVariable("UPDATE_PUBLIC_API") == "1") File.WriteAllText(ListingPath, actual);

        var expected = File.ReadAllText(ListingPath).ReplaceLineEndings("\n");
        var missing = expected.Split('\n').Except(actual.Split('\n')).ToList();
        var added = actual.Split('\n').Except(expected.Split('\n')).ToList();
        Assert.True(missing.Count == 0 && added.Count == 0,
            "build/Frosting's public API changed (check it against Cake.Frosting, then update tests/Frosting.Tests/PublicApi.txt):\n"
            + string.Join('\n', missing.Select(l => "- " + l).Concat(added.Select(l => "+ " + l))));
    }

    [Fact]
    public void The_listing_sees_members_and_attribute_usage()
    {
        var listing = Listing(typeof(CakeHost).Assembly);

        Assert.Contains("static CakeHost CakeHostExtensions.UseContext<TContext>(CakeHost host)", listing);
        Assert.Contains("[AttributeUsage(Class, AllowMultiple=False, Inherited=False)] class Cake.Frosting.TaskNameAttribute", listing);
        Assert.Contains("String IFrostingTask.SkippedMessage { get; }", listing);
        Assert.DoesNotContain("Internal", listing);
    }

    /// <summary>One line per public type and per public or protected member, sorted.</summary>
    public static string Listing(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            lines.Add(Describe(type));
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var member in type.GetMembers(all))
            {
                if (Member(type, member) is { } line) lines.Add(line);
            }
        }
        lines.Sort(StringComparer.Ordinal);
        var text = new StringBuilder();
        foreach (var line in lines) text.Append(line).Append('\n');
        return text.ToString();
    }

    private static string Describe(Type type)
    {
        var kind = type.IsInterface ? "interface" : type.IsValueType ? "struct" : type.IsAbstract && type.IsSealed ? "static class"
            : type.IsAbstract ? "abstract class" : type.IsSealed ? "sealed class" : "class";
        var usage = type.GetCustomAttribute<AttributeUsageAttribute>() is { } u && typeof(Attribute).IsAssignableFrom(type)
            ? $"[AttributeUsage({u.ValidOn}, AllowMultiple={u.AllowMultiple}, Inherited={u.Inherited})] " : "";
        var bases = new List<string>();
        if (type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType)) bases.Add(Name(b));
        bases.AddRange(type.GetInterfaces().Where(i => type.BaseType is null || !i.IsAssignableFrom(type.BaseType)).Select(Name).Order(StringComparer.Ordinal));
        var kindWord = kind == "sealed class" && usage.Length > 0 ? "class" : kind;
        return $"{usage}{kindWord} {type.Namespace}.{Name(type)}{(bases.Count > 0 ? " : " + string.Join(", ", bases) : "")}";
    }

    private static string? Member(Type type, MemberInfo member)
    {
        var owner = Name(type);
        switch (member)
        {
            case ConstructorInfo c when Visible(c):
                return $"{owner}: {Access(c)}{(c.IsStatic ? "static " : "")}{owner.Split('<')[0]}({Parameters(c)})";
            case MethodInfo m when Visible(m) && !m.IsSpecialName:
                var generic = m.IsGenericMethod ? "<" + string.Join(", ", m.GetGenericArguments().Select(a => a.Name)) + ">" : "";
                return $"{owner}: {Access(m)}{Modifiers(m)}{Name(m.ReturnType)} {owner.Split('<')[0]}.{m.Name}{generic}({Parameters(m)})";
            case PropertyInfo p when p.GetMethod is { } get && Visible(get):
                return $"{owner}: {Access(get)}{Modifiers(get)}{Name(p.PropertyType)} {owner.Split('<')[0]}.{p.Name} {{ get;{(p.SetMethod is { } set && Visible(set) ? " set;" : "")} }}";
            case FieldInfo f when f.IsPublic || f.IsFamily:
                return $"{owner}: {(f.IsFamily ? "protected " : "")}{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{Name(f.FieldType)} {f.Name}";
            default:
                return null;
        }
    }

    private static bool Visible(MethodBase m) => m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly;

    private static string Access(MethodBase m) => m.IsPublic ? "" : "protected ";

    private static string Modifiers(MethodInfo m) =>
        m.IsStatic ? "static "
        : m.DeclaringType!.IsInterface ? (m.IsAbstract ? "" : "default ")
        : m.IsAbstract ? "abstract "
        : m.IsVirtual && !m.IsFinal ? (m.GetBaseDefinition() == m ? "virtual " : "override ")
        : "";

    private static string Parameters(MethodBase m) =>
        string.Join(", ", m.GetParameters().Select(p => $"{Name(p.ParameterType)} {p.Name}"));

    private static string Name(Type type)
    {
        if (type.IsGenericParameter) return type.Name;
        if (type.IsArray) return Name(type.GetElementType()!) + "[]";
        if (!type.IsGenericType) return type.Name;
        var name = type.Name[..type.Name.IndexOf('`')];
        return $"{name}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>";
    }
}
