namespace Build.Docker;

/// <summary>Finds an executable on a PATH value (the process's own, or one a test gives).</summary>
public static class ToolLocator
{
    public static string? Find(string tool, string? path)
    {
        if (tool.Contains('/')) return File.Exists(tool) ? tool : null;
        foreach (var dir in (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Join(dir, tool);
            if (File.Exists(candidate) && IsExecutable(candidate)) return candidate;
        }
        return null;
    }

    private static bool IsExecutable(string file) =>
        OperatingSystem.IsWindows() || (File.GetUnixFileMode(file) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}
