using Build.Processes;

namespace Build.Tailnet.Policy;

/// <summary>
/// The policy file's committed versions, newest first, from git history (<c>git log -- file</c>, then
/// <c>git show commit:file</c>): what the repository may have applied, with no cache to keep. A shallow
/// clone holds fewer (GitLab's <c>GIT_DEPTH</c>); its oldest commit still shows the file as it was then.
/// </summary>
public static class PolicyHistory
{
    public const int MaxVersions = 50;

    public static async Task<(IReadOnlyList<(string Commit, string Text)> Versions, string? Problem)> ReadAsync(
        IProcessRunner processes, string root, string file, CancellationToken cancellationToken)
    {
        var relative = Path.GetRelativePath(root, Path.GetFullPath(file, root)).Replace('\\', '/');
        if (relative.StartsWith("..", StringComparison.Ordinal))
            return ([], $"{file} is outside the repository, so it has no history");
        var log = await processes.RunAsync(new ProcessSpec("git", ["-C", root, "log", $"-n{MaxVersions}", "--format=%H", "--", relative]) { Timeout = TimeSpan.FromMinutes(1) }, cancellationToken);
        if (!log.Succeeded) return ([], $"git log failed: {log.Tail(3)}");
        var versions = new List<(string, string)>();
        foreach (var commit in log.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var show = await processes.RunAsync(new ProcessSpec("git", ["-C", root, "show", $"{commit}:{relative}"]) { Timeout = TimeSpan.FromMinutes(1) }, cancellationToken);
            // A commit that deleted the file has no version of it.
            if (show.Succeeded) versions.Add((commit, show.Output));
        }
        return (versions, versions.Count == 0 ? $"git history holds no committed version of {relative}" : null);
    }
}
