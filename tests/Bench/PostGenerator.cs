using System.Globalization;
using System.Text;

namespace Bench;

/// <summary>
/// Writes N Hexo posts of realistic size (about 4 KB of Markdown: headings, paragraphs, a list,
/// sometimes a code block), with tags and categories from small pools so the tag, category and
/// archive pages are as numerous as on a real blog. Deterministic for a given seed.
/// </summary>
public sealed class PostGenerator(int seed = 42)
{
    private static readonly string[] Tags =
    [
        "deployment", "performance", "ssh", "rsync", "hexo", "ci", "gitlab", "tailscale", "dotnet", "cake",
        "security", "networking", "linux", "testing", "caching", "compression", "latency", "tooling",
        "static-sites", "releases", "rollback", "monitoring", "shell", "docker", "writing",
    ];

    private static readonly string[] Categories = ["pipeline", "operations", "notes", "howto", "design", "retrospectives"];

    private static readonly string[] Words =
    (
        "the a of to and in is that for on with as it by this be are from or at an we our which when each " +
        "server release build deploy file site manifest hash upload stream round trip latency bandwidth " +
        "connection handshake key host tar archive compress rsync pipeline stage switch symlink rollback " +
        "lock verify check change content static generator page post tag category feed index archive " +
        "network proxy cache time second byte megabyte parallel sequential channel session command output " +
        "error retry timeout signal process memory disk write read directory path mode owner permission " +
        "test measure result median faster slower because however therefore instead simply always never"
    ).Split(' ');

    /// <summary>Writes <c>bench-0001.md</c> ... into <paramref name="postsDirectory"/>; returns their paths.</summary>
    public IReadOnlyList<string> Generate(string postsDirectory, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        Directory.CreateDirectory(postsDirectory);
        var random = new Random(seed);
        var start = new DateTime(2023, 1, 2, 8, 0, 0, DateTimeKind.Utc);
        var paths = new List<string>(count);
        for (var i = 1; i <= count; i++)
        {
            var path = Path.Join(postsDirectory, FileName(i));
            // Spread over about two years (a post most days), so archives have month pages as a real blog.
            var date = start.AddHours(i * 17.0 + random.Next(0, 12));
            File.WriteAllText(path, Post(random, i, date));
            paths.Add(path);
        }
        return paths;
    }

    public static string FileName(int number) => $"bench-{number:D4}.md";

    /// <summary>A real content change: appends a paragraph to one post (the rebuild scenario's edit).</summary>
    public static void Change(string postPath, string note) =>
        File.AppendAllText(postPath, $"\n\n## Update\n\n{note}\n");

    private static string Post(Random random, int number, DateTime date)
    {
        var sb = new StringBuilder(4096);
        var title = Sentence(random, 4, 8).TrimEnd('.');
        sb.Append("---\n");
        sb.Append($"title: \"Post {number}: {title}\"\n");
        sb.Append(CultureInfo.InvariantCulture, $"date: {date:yyyy-MM-dd HH:mm:ss}\n");
        sb.Append("tags:\n");
        foreach (var tag in Pick(random, Tags, random.Next(1, 5))) sb.Append($"  - {tag}\n");
        sb.Append("categories:\n");
        sb.Append($"  - {Categories[random.Next(Categories.Length)]}\n");
        sb.Append($"excerpt: \"{Sentence(random, 14, 24)}\"\n");
        sb.Append("---\n\n");

        sb.Append(Paragraph(random)).Append("\n\n");
        for (var section = 0; section < 3; section++)
        {
            sb.Append("## ").Append(Sentence(random, 2, 5).TrimEnd('.')).Append("\n\n");
            sb.Append(Paragraph(random)).Append("\n\n");
            if (section == 1)
            {
                for (var item = 0; item < 4; item++) sb.Append("- ").Append(Sentence(random, 5, 10)).Append('\n');
                sb.Append('\n');
            }
            if (section == 2 && random.Next(2) == 0)
            {
                sb.Append("```sh\n");
                sb.Append($"rsync -az --delete public/ deploy@host{number % 7}:/var/www/site/\n");
                sb.Append($"ssh deploy@host{number % 7} 'ls -l /var/www/site | head -n {number % 20 + 1}'\n");
                sb.Append("```\n\n");
            }
            sb.Append(Paragraph(random)).Append("\n\n");
        }
        return sb.ToString();
    }

    private static IEnumerable<string> Pick(Random random, string[] pool, int count) =>
        pool.OrderBy(_ => random.Next()).Take(count).ToArray();

    private static string Paragraph(Random random)
    {
        var sb = new StringBuilder();
        var sentences = random.Next(3, 6);
        for (var i = 0; i < sentences; i++) sb.Append(i == 0 ? "" : " ").Append(Sentence(random, 8, 18));
        return sb.ToString();
    }

    private static readonly string[] Syllables =
        "ka lo mi ter an ri ve so da pen ul ex tra cor bi nu sta gle pho ment ion al ic ous ver pre con dis".Split(' ');

    // Prose is not a loop over a hundred words: about a third are drawn from a large space of
    // made-up words, so the site compresses like real text rather than far better.
    private static string Word(Random random) =>
        random.Next(3) > 0
            ? Words[random.Next(Words.Length)]
            : string.Concat(Enumerable.Range(0, random.Next(2, 4)).Select(_ => Syllables[random.Next(Syllables.Length)]));

    private static string Sentence(Random random, int min, int max)
    {
        var count = random.Next(min, max + 1);
        var words = Enumerable.Range(0, count).Select(_ => Word(random)).ToArray();
        words[0] = char.ToUpperInvariant(words[0][0]) + words[0][1..];
        return string.Join(' ', words) + ".";
    }
}
