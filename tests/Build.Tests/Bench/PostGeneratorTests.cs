using Bench;
using YamlDotNet.RepresentationModel;

namespace Build.Tests.Bench;

public sealed class PostGeneratorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bench-posts-").FullName;

    [Fact]
    public void Writes_n_posts_with_front_matter_of_title_date_tags_and_categories()
    {
        var paths = new PostGenerator().Generate(_dir, 12);

        Assert.Equal(12, paths.Count);
        Assert.Equal(12, Directory.GetFiles(_dir, "*.md").Length);
        Assert.Equal(Path.Join(_dir, "bench-0001.md"), paths[0]);
        foreach (var path in paths)
        {
            var text = File.ReadAllText(path);
            Assert.StartsWith("---\n", text, StringComparison.Ordinal);
            var end = text.IndexOf("\n---\n", 4, StringComparison.Ordinal);
            Assert.True(end > 0, $"{path}: front matter is not closed");
            var yaml = new YamlStream();
            yaml.Load(new StringReader(text[4..end]));
            var front = (YamlMappingNode)yaml.Documents[0].RootNode;
            Assert.False(string.IsNullOrWhiteSpace(((YamlScalarNode)front["title"]).Value));
            Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", ((YamlScalarNode)front["date"]).Value!);
            Assert.NotEmpty(((YamlSequenceNode)front["tags"]).Children);
            Assert.Single(((YamlSequenceNode)front["categories"]).Children);
            // Realistic size: a few kilobytes of body, not a stub.
            Assert.InRange(text.Length, 1500, 12000);
        }
    }

    [Fact]
    public void Same_seed_same_posts_and_a_change_alters_one_post()
    {
        var other = Directory.CreateTempSubdirectory("bench-posts-").FullName;
        try
        {
            var a = new PostGenerator(7).Generate(_dir, 3);
            var b = new PostGenerator(7).Generate(other, 3);
            Assert.Equal(a.Select(File.ReadAllText), b.Select(File.ReadAllText));

            PostGenerator.Change(a[1], "A correction.");
            Assert.NotEqual(File.ReadAllText(a[1]), File.ReadAllText(b[1]));
            Assert.Equal(File.ReadAllText(a[0]), File.ReadAllText(b[0]));
            Assert.EndsWith("A correction.\n", File.ReadAllText(a[1]), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(other, recursive: true);
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
