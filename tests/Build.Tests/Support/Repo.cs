namespace Build.Tests.Support;

/// <summary>Locates the repository the tests run from.</summary>
public static class Repo
{
    public static string Root { get; } = Find();

    public static string File(params string[] parts) => Path.Join([Root, .. parts]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Join(dir.FullName, "build.sh")) && System.IO.File.Exists(Path.Join(dir.FullName, "global.json")))
                return dir.FullName;
        }
        throw new InvalidOperationException("The repository root (with build.sh) was not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary directory removed on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string prefix = "buildtests")
    {
        Path = Directory.CreateTempSubdirectory(prefix + "-").FullName;
    }

    public string Path { get; }

    public string File(string relative, string? content = null)
    {
        var full = System.IO.Path.Join(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        if (content is not null) System.IO.File.WriteAllText(full, content);
        return full;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
