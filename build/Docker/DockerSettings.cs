using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text;

namespace Build.Docker;

/// <summary>A settings property that is never turned into a command-line argument (a secret, or a value passed otherwise).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class NotAnArgumentAttribute : Attribute;

/// <summary>A <c>bool?</c> whose docker default is true: false is written <c>--name=false</c> (Cake.Docker's BoolWithTrueDefaultFormat).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class TrueByDefaultAttribute : Attribute;

/// <summary>
/// Base of the docker settings classes, in the style of Cake.Docker's auto settings: every public
/// property becomes an option named after it in kebab case (<c>BuildArg</c> → <c>--build-arg</c>),
/// in declaration order. A string or number gives <c>--name value</c>; a true bool gives
/// <c>--name</c>; an array gives the option once per item. Null, false and empty are left out,
/// except a false <see cref="TrueByDefaultAttribute"/> bool, which gives <c>--name=false</c>.
/// </summary>
// Its properties are read by reflection: kept in every derived class of a trimmed (native) program.
[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)]
public abstract class DockerSettings
{
    public IReadOnlyList<string> ToArguments()
    {
        var args = new List<string>();
        // In declaration order: the order reflection lists them in, from the metadata (the native program has no
        // metadata tokens to sort by).
        var properties = GetType()
            .GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<NotAnArgumentAttribute>() is null);
        foreach (var property in properties)
        {
            var option = "--" + KebabCase(property.Name);
            switch (property.GetValue(this))
            {
                case null:
                    break;
                case bool flag:
                    if (flag) args.Add(option);
                    else if (property.GetCustomAttribute<TrueByDefaultAttribute>() is not null) args.Add(option + "=false");
                    break;
                case string text:
                    if (text.Length > 0) args.AddRange([option, text]);
                    break;
                case IEnumerable<string> items:
                    foreach (var item in items) args.AddRange([option, item]);
                    break;
                case IFormattable number:
                    args.AddRange([option, number.ToString(null, System.Globalization.CultureInfo.InvariantCulture)]);
                    break;
                default:
                    throw new NotSupportedException($"{GetType().Name}.{property.Name}: no argument form for {property.PropertyType.Name}.");
            }
        }
        return args;
    }

    public static string KebabCase(string name)
    {
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) builder.Append('-');
            builder.Append(char.ToLowerInvariant(name[i]));
        }
        return builder.ToString();
    }
}

/// <summary><c>docker build [options] PATH</c> (Cake.Docker's <c>DockerImageBuildSettings</c>, the options the pipeline needs).</summary>
public sealed class DockerImageBuildSettings : DockerSettings
{
    public string[]? AddHost { get; set; }
    /// <summary>Build-time variables, <c>NAME=value</c> (never a secret: they stay in the image history).</summary>
    public string[]? BuildArg { get; set; }
    public string[]? CacheFrom { get; set; }
    [TrueByDefault]
    public bool? DisableContentTrust { get; set; }
    /// <summary>Name of the Dockerfile (<c>--file</c>).</summary>
    public string? File { get; set; }
    public bool? ForceRm { get; set; }
    public string? Iidfile { get; set; }
    /// <summary>Image metadata, <c>key=value</c>.</summary>
    public string[]? Label { get; set; }
    public string? Network { get; set; }
    public bool? NoCache { get; set; }
    public string? Platform { get; set; }
    /// <summary><c>auto</c>, <c>plain</c> or <c>tty</c>.</summary>
    public string? Progress { get; set; }
    /// <summary>Always try to pull a newer version of the base image.</summary>
    public bool? Pull { get; set; }
    public bool? Quiet { get; set; }
    [TrueByDefault]
    public bool? Rm { get; set; }
    /// <summary>Name and optionally a tag, <c>name:tag</c> (<c>--tag</c>, repeatable).</summary>
    public string[]? Tag { get; set; }
    public string? Target { get; set; }
}

/// <summary><c>docker push [options] NAME[:TAG]</c>.</summary>
public sealed class DockerImagePushSettings : DockerSettings
{
    [TrueByDefault]
    public bool? DisableContentTrust { get; set; }
    public bool AllTags { get; set; }
    public bool? Quiet { get; set; }
}

/// <summary><c>docker tag SOURCE TARGET</c>: no options.</summary>
public sealed class DockerImageTagSettings : DockerSettings;

/// <summary>
/// <c>docker login [options] [SERVER]</c>. <see cref="Password"/> is never turned into an argument: a
/// password on docker's command line is visible to every process on the machine. Use
/// <see cref="DockerAliases.DockerLoginWithPasswordStdin"/>, which writes it to docker's stdin.
/// </summary>
public sealed class DockerRegistryLoginSettings : DockerSettings
{
    [NotAnArgument]
    public string? Password { get; set; }
    public bool? PasswordStdin { get; set; }
    public string? Username { get; set; }
}

/// <summary><c>docker logout [SERVER]</c>: no options.</summary>
public sealed class DockerRegistryLogoutSettings : DockerSettings;

/// <summary><c>docker manifest inspect [options] [MANIFEST_LIST] MANIFEST</c>: asks the registry, pulls nothing.</summary>
public sealed class DockerManifestInspectSettings : DockerSettings
{
    /// <summary>Allow communication with an insecure registry.</summary>
    public bool? Insecure { get; set; }
    public bool? Verbose { get; set; }
}
