namespace Build.Settings;

/// <summary>A value given as a path or as text (a GitLab File variable holds a path).</summary>
public sealed record PathOrText(string? Path, string? Text, string Origin)
{
    public string ReadText() => Text ?? File.ReadAllText(Path!);

    /// <summary>Given on purpose (argument, variable or deploy.json), not the default.</summary>
    public bool IsExplicit => Origin != "default";

    /// <summary>
    /// The argument (and deploy.json) may only name a path; the variable may hold a path or the text.
    /// </summary>
    public static PathOrText From(SettingsSource source, string argument, string variable, string fallback)
    {
        var arg = source.GetAll(argument);
        if (arg.Count > 0) return new PathOrText(Paths.ExpandHome(arg[0].Value), null, arg[0].Origin);
        if (source.Secret(variable) is { } secret)
        {
            return Output.SecretValue.TryReadFile(secret.Value, out _)
                ? new PathOrText(secret.Value, null, secret.Origin)
                : new PathOrText(null, secret.Value, secret.Origin);
        }
        return new PathOrText(Paths.ExpandHome(fallback), null, "default");
    }
}

public static class Paths
{
    public static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[1..])
            : path;
}
