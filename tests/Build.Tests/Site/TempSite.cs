namespace Build.Tests.Site;

/// <summary>A site directory in a temporary folder, filled by the test, deleted afterwards.</summary>
internal sealed class TempSite : IDisposable
{
    public TempSite()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("linkcheck-").FullName;
    }

    public string Directory { get; }

    public TempSite File(string relativePath, string content = "")
    {
        var path = Path.Join(Directory, relativePath);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllText(path, content);
        return this;
    }

    /// <summary>A page whose body holds the given HTML.</summary>
    public TempSite Page(string relativePath, string body) =>
        File(relativePath, $"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>");

    /// <summary>The home page and a valid Atom feed, so that only the links under test can fail.</summary>
    public TempSite WithHomeAndFeed(string homeBody = "")
    {
        Page("index.html", homeBody);
        return File("atom.xml", """
            <?xml version="1.0" encoding="utf-8"?>
            <feed xmlns="http://www.w3.org/2005/Atom">
              <title>t</title>
              <link href="https://blog.example.com/atom.xml" rel="self"/>
              <link href="https://blog.example.com/"/>
              <id>https://blog.example.com/</id>
              <updated>2026-01-01T00:00:00Z</updated>
            </feed>
            """);
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
    }
}
