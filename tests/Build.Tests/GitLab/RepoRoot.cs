namespace Build.Tests.GitLab;

/// <summary>The repository root, found upwards from the test assembly.</summary>
internal static class RepoRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null)
        {
            if (System.IO.File.Exists(System.IO.Path.Join(dir.FullName, "Directory.Build.props")) && Directory.Exists(System.IO.Path.Join(dir.FullName, "build")))
                return dir.FullName;
            dir = dir.Parent;
        }
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    public static string File(params string[] parts) => System.IO.Path.Join([Path, .. parts]);
}
