namespace Build.Output;

/// <summary>
/// GitLab File variables hold a path: a secret variable whose value is the path of an existing
/// file means that file's content.
/// </summary>
public static class SecretValue
{
    public static bool TryReadFile(string value, out string content)
    {
        content = "";
        // A key's text is never a path; checking only plausible paths keeps File.Exists off multi-line values.
        if (value.Length > 4096 || value.Contains('\n') || !File.Exists(value)) return false;
        content = File.ReadAllText(value);
        return true;
    }

    /// <summary>The value itself, or the content of the file it names.</summary>
    public static string Resolve(string value) => TryReadFile(value, out var content) ? content : value;
}
