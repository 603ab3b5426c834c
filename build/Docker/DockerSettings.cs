using System.Reflection;
using System.Text;

namespace Build.Docker;

/// <summary>A settings property that is never turned into a command-line argument (a secret, or a value passed otherwise).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class NotAnArgumentAttribute : Attribute;

/// <summary>
/// Base of the docker settings classes, in the style of Cake.Docker's auto settings: every public
/// property becomes an option named after it in kebab case (<c>BuildArg</c> → <c>--build-arg</c>),
/// in declaration order. A string or number gives <c>--name value</c>; a true bool gives
/// <c>--name</c>; an array gives the option once per item. Null, false and empty are left out.
/// </summary>
public abstract class DockerSettings
{
    public IReadOnlyList<string> ToArguments()
    {
        var args = new List<string>();
        var properties = GetType()
            .GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<NotAnArgumentAttribute>() is null)
            .OrderBy(p => p.MetadataToken);
        foreach (var property in properties)
        {
            var option = "--" + KebabCase(property.Name);
            switch (property.GetValue(this))
            {
                case null:
                    break;
                case bool flag:
                    if (flag) args.Add(option);
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

/// <summary><c>docker build [options] PATH</c>.</summary>
public sealed class DockerBuildSettings : DockerSettings
{
    /// <summary>Name of the Dockerfile (<c>--file</c>).</summary>
    public string? File { get; set; }
    /// <summary>Name and optionally a tag, <c>name:tag</c> (<c>--tag</c>, repeatable).</summary>
    public string[]? Tag { get; set; }
    /// <summary>Build-time variables, <c>NAME=value</c> (never a secret: they stay in the image history).</summary>
    public string[]? BuildArg { get; set; }
    /// <summary>Image metadata, <c>key=value</c>.</summary>
    public string[]? Label { get; set; }
    /// <summary>Always try to pull a newer version of the base image.</summary>
    public bool Pull { get; set; }
    public bool NoCache { get; set; }
    public string? Platform { get; set; }
    /// <summary><c>auto</c>, <c>plain</c> or <c>tty</c>.</summary>
    public string? Progress { get; set; }
    public string? Target { get; set; }
    public bool Quiet { get; set; }
}

/// <summary>
/// <c>docker login [options] [SERVER]</c>. The password never becomes an argument: it is written to
/// docker's stdin with <c>--password-stdin</c>.
/// </summary>
public sealed class DockerLoginSettings : DockerSettings
{
    public string? Username { get; set; }

    /// <summary>Set whenever <see cref="Password"/> is: the password is read from stdin.</summary>
    public bool PasswordStdin => Password is not null;

    [NotAnArgument]
    public string? Password { get; set; }
}

/// <summary><c>docker push [options] NAME[:TAG]</c>.</summary>
public sealed class DockerPushSettings : DockerSettings
{
    public bool AllTags { get; set; }
    public bool Quiet { get; set; }
}

/// <summary><c>docker manifest inspect [options] NAME[:TAG]</c>: asks the registry, pulls nothing.</summary>
public sealed class DockerManifestInspectSettings : DockerSettings
{
    /// <summary>Allow communication with an insecure registry.</summary>
    public bool Insecure { get; set; }
    public bool Verbose { get; set; }
}
