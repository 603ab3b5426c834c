using Build.Settings;
using Build.Tests.Support;

namespace Build.Tests.Settings;

public sealed class SettingsHelpTests
{
    [Fact]
    public void Help_names_every_argument_of_the_README_settings_table()
    {
        var readme = File.ReadAllText(Path.Join(Repo.Root, "README.md"));
        var table = readme[readme.IndexOf("## Settings", StringComparison.Ordinal)..];
        table = table[..table.IndexOf("\n## ", 5, StringComparison.Ordinal)];
        var arguments = System.Text.RegularExpressions.Regex.Matches(table, @"^\| `(--[a-z-]+)`", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToList();

        Assert.True(arguments.Count > 20, "the README's settings table was not found");
        Assert.All(arguments, a => Assert.Matches($@"\s{a}(\s|$)", SettingsHelp.Text));
    }
}
