namespace Build.Processes;

/// <summary>Finds an executable on a PATH value (the process's own, or one a test gives).</summary>
public static class ToolLocator
{
    /// <param name="fallbackDirectories">Searched after PATH (tailscaled lives in /usr/sbin, often not on a CI job's PATH).</param>
    public static string? Find(string tool, string? path, IEnumerable<string>? fallbackDirectories = null)
    {
        if (tool.Contains('/')) return File.Exists(tool) ? tool : null;
        var directories = (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Concat(fallbackDirectories ?? []);
        foreach (var dir in directories)
        {
            var candidate = Path.Join(dir, tool);
            if (File.Exists(candidate) && IsExecutable(candidate)) return candidate;
        }
        return null;
    }

    private static bool IsExecutable(string file) =>
        OperatingSystem.IsWindows() || (File.GetUnixFileMode(file) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}
