using TestHosts;

namespace Build.Tests.GitLab.Runner;

/// <summary>
/// A commit of the project as a runner would clone it: the working tree's tracked and untracked
/// (not ignored) files, uncommitted edits included, ignored files (build output, node_modules)
/// left out, committed in a git repository of its own. A job's "fresh clone" is a copy of it
/// that keeps the files' times, as two clones of one commit would agree on them.
/// </summary>
public sealed class ProjectCommit
{
    private ProjectCommit(string directory, string sha)
    {
        Directory = directory;
        Sha = sha;
    }

    /// <summary>The commit's files and its .git.</summary>
    public string Directory { get; }

    public string Sha { get; }

    public static async Task<ProjectCommit> FromWorkingTreeAsync(string repository, string directory, CancellationToken cancellationToken)
    {
        var listed = await Run("git", ["-C", repository, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cancellationToken);
        System.IO.Directory.CreateDirectory(directory);
        foreach (var relative in listed.Output.Split('\0', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal))
        {
            var source = Path.Join(repository, relative);
            if (!File.Exists(source)) continue;   // deleted in the working tree: not in the next commit either
            var target = Path.Join(directory, relative);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
            File.SetUnixFileMode(target, File.GetUnixFileMode(source));
        }
        await Run("git", ["-C", directory, "init", "-q", "-b", "main"], cancellationToken);
        return await CommitAsync(directory, "the working tree under test", cancellationToken);
    }

    /// <summary>A later commit: this one's files copied to <paramref name="directory"/>, edited, and committed.</summary>
    public async Task<ProjectCommit> NextAsync(string directory, Action<string> edit, string message, CancellationToken cancellationToken)
    {
        await CloneToAsync(directory, cancellationToken);
        edit(directory);
        return await CommitAsync(directory, message, cancellationToken);
    }

    /// <summary>A fresh clone of this commit at <paramref name="target"/> (which must not exist yet).</summary>
    public async Task CloneToAsync(string target, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        await Run("cp", ["-a", Directory, target], cancellationToken);
    }

    private static async Task<ProjectCommit> CommitAsync(string directory, string message, CancellationToken cancellationToken)
    {
        await Run("git", ["-C", directory, "add", "-A"], cancellationToken);
        await Run("git", ["-C", directory, "-c", "user.name=Job Tests", "-c", "user.email=jobs@example.com", "-c", "commit.gpgsign=false",
            "commit", "-q", "--no-verify", "-m", message], cancellationToken);
        var sha = (await Run("git", ["-C", directory, "rev-parse", "HEAD"], cancellationToken)).Output.Trim();
        return new ProjectCommit(directory, sha);
    }

    internal static async Task<ProcessResult> Run(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        (await LocalProcess.RunAsync(program, arguments, cancellationToken)).EnsureSuccess($"{program} {string.Join(' ', arguments)}");
}
