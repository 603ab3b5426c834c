namespace Build.Tests.Site;

/// <summary>The repository the tests run from (found upwards from the test assembly).</summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Join(dir.FullName, "site", "package.json")) && File.Exists(Path.Join(dir.FullName, "build", "Build.csproj")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"No repository root (with site/package.json) above {AppContext.BaseDirectory}.");
    }
}
