using System.Globalization;
using System.Text;

namespace TestHosts;

/// <summary>
/// A blog made by writing files directly (no Hexo), one version after another in the same directory, as a reader
/// sees a blog change: each version adds a post and rewrites the home page, every post page and the stylesheet.
/// The home page links the newest post first, the stylesheet and the newest post's image; atom.xml lists the newest posts.
/// </summary>
public static class LoadSite
{
    public const string Stylesheet = "/css/style.css";

    /// <summary>Writes version <paramref name="version"/> (1, 2, ...) into <paramref name="directory"/>: <paramref name="posts"/> + version posts.</summary>
    public static void Write(string directory, int version, int posts = 200, int postBytes = 6000, int imageBytes = 12_000)
    {
        var count = posts + version;
        var filler = new string('x', postBytes);
        Directory.CreateDirectory(Path.Join(directory, "css"));
        Directory.CreateDirectory(Path.Join(directory, "images"));
        Rewrite(Path.Join(directory, "css", "style.css"), $"/* version {version} */\nbody {{ font-family: serif; margin: {version % 7}em; }}\n");
        for (var n = 1; n <= count; n++)
        {
            var image = Path.Join(directory, "images", $"{n}.png");
            if (!File.Exists(image))
            {
                var bytes = new byte[imageBytes];
                new Random(n).NextBytes(bytes);
                File.WriteAllBytes(image, bytes);
            }
            var post = Path.Join(directory, "posts", n.ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(post);
            Rewrite(Path.Join(post, "index.html"),
                $"<!doctype html><html><head><link rel=\"stylesheet\" href=\"{Stylesheet}\"></head><body><h1>Post {n}</h1>" +
                $"<p>site version {version}</p><img src=\"/images/{n}.png\"><p>{filler}</p></body></html>\n");
        }
        var home = new StringBuilder($"<!doctype html><html><head><link rel=\"stylesheet\" href=\"{Stylesheet}\"></head><body><h1>Blog, version {version}</h1>\n");
        for (var n = count; n > Math.Max(0, count - 20); n--)
            home.Append(CultureInfo.InvariantCulture, $"<article><a class=\"post\" href=\"/posts/{n}/\">Post {n}</a><img src=\"/images/{n}.png\"></article>\n");
        home.Append("</body></html>\n");
        Rewrite(Path.Join(directory, "index.html"), home.ToString());
        // The blog's Atom feed (the deploy's site check wants the one the site's config names): the newest posts.
        var feed = new StringBuilder($"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Blog, version {version}</title><link href=\"/atom.xml\" rel=\"self\"/><link href=\"/\"/>\n");
        for (var n = count; n > Math.Max(0, count - 20); n--)
            feed.Append(CultureInfo.InvariantCulture, $"<entry><title>Post {n}</title><link href=\"/posts/{n}/\"/></entry>\n");
        feed.Append("</feed>\n");
        Rewrite(Path.Join(directory, "atom.xml"), feed.ToString());

        // Each version's own modification time: "site version 10" and "site version 11" have the same size, and two
        // versions written within one second would look unchanged to rsync's size-and-time check, which skips them.
        void Rewrite(string path, string text)
        {
            File.WriteAllText(path, text);
            File.SetLastWriteTimeUtc(path, new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(version));
        }
    }
}
