using Build.GitLab;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests.GitLab;

public sealed class LogSectionsTests
{
    private const string E = "\u001b[0K";
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeSeconds(1_764_000_000);

    private static (LogSections Sections, StringWriter Output, FakeTimeProvider Clock) Create(bool enabled = true)
    {
        var output = new StringWriter();
        var clock = new FakeTimeProvider(Start);
        return (new LogSections(() => output, clock, enabled), output, clock);
    }

    [Fact]
    public void A_section_is_written_with_GitLabs_exact_markers_and_times()
    {
        var (sections, output, clock) = Create();

        sections.Start("task_build", "Build");
        clock.Advance(TimeSpan.FromSeconds(42));
        sections.End();

        Assert.Equal(
            $"{E}section_start:1764000000:task_build[collapsed=true]\r{E}Build\n" +
            $"{E}section_end:1764000042:task_build\r{E}\n",
            output.ToString());
    }

    [Fact]
    public void An_expanded_section_has_no_collapsed_option()
    {
        var (sections, output, _) = Create();

        sections.Start("task_deploy", "Deploy", collapsed: false);

        Assert.Equal($"{E}section_start:1764000000:task_deploy\r{E}Deploy\n", output.ToString());
    }

    [Fact]
    public void Outside_GitLab_nothing_is_written()
    {
        var (sections, output, _) = Create(enabled: false);

        sections.Start("task_build", "Build");
        sections.End();

        Assert.Equal("", output.ToString());
        Assert.False(LogSections.ForEnvironment(_ => null).Enabled);
        Assert.False(LogSections.ForEnvironment(_ => "false").Enabled);
        Assert.True(LogSections.ForEnvironment(name => name == "GITLAB_CI" ? "true" : null).Enabled);
    }

    [Fact]
    public void Starting_a_section_ends_the_open_one_first()
    {
        var (sections, output, clock) = Create();

        sections.Start("a", "A");
        clock.Advance(TimeSpan.FromSeconds(1));
        sections.Start("b", "B");

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            [$"{E}section_start:1764000000:a[collapsed=true]\r{E}A", $"{E}section_end:1764000001:a\r{E}", $"{E}section_start:1764000001:b[collapsed=true]\r{E}B"],
            lines);
        Assert.Equal("b", sections.Open);
    }

    [Fact]
    public void A_section_ended_early_by_its_task_is_not_ended_again_by_the_teardown()
    {
        var (sections, output, _) = Create();

        GitLabSections.Begin(sections, "Deploy");
        sections.End();                                   // the task, before printing its summary
        output.Write("summary\n");
        GitLabSections.Finish(sections, "Deploy");        // the teardown

        var text = output.ToString();
        Assert.Equal(1, CountOf(text, "section_end:"));
        Assert.EndsWith("summary\n", text);
        Assert.Null(sections.Open);
    }

    [Fact]
    public void The_teardown_of_another_task_leaves_the_open_section_alone()
    {
        var (sections, output, _) = Create();

        GitLabSections.Begin(sections, "Build");
        GitLabSections.Finish(sections, "Deploy");

        Assert.Equal(0, CountOf(output.ToString(), "section_end:"));
        Assert.Equal("task_build", sections.Open);
    }

    [Fact]
    public void Task_sections_are_collapsed_except_deploy_and_rollback()
    {
        var (sections, output, _) = Create();

        GitLabSections.Begin(sections, "GenerateSite");
        GitLabSections.Finish(sections, "GenerateSite");
        GitLabSections.Begin(sections, "Deploy");
        GitLabSections.Finish(sections, "Deploy");
        GitLabSections.Begin(sections, "Rollback");

        var text = output.ToString();
        Assert.Contains($"section_start:1764000000:task_generatesite[collapsed=true]\r{E}GenerateSite\n", text);
        Assert.Contains($"section_start:1764000000:task_deploy\r{E}Deploy\n", text);
        Assert.Contains($"section_start:1764000000:task_rollback\r{E}Rollback\n", text);
    }

    [Theory]
    [InlineData("task_build", "task_build")]
    [InlineData("Deploy site/public", "Deploy_site_public")]
    [InlineData("a.b-c_d", "a.b-c_d")]
    [InlineData("über:1", "_ber_1")]
    [InlineData("", "section")]
    public void Section_names_use_only_letters_digits_underscore_dot_and_dash(string name, string expected)
    {
        Assert.Equal(expected, LogSections.ValidName(name));
    }

    [Fact]
    public void A_header_with_a_newline_stays_on_the_marker_line()
    {
        var (sections, output, _) = Create();

        sections.Start("x", "two\nlines");

        Assert.Equal($"{E}section_start:1764000000:x[collapsed=true]\r{E}two lines\n", output.ToString());
    }

    private static int CountOf(string text, string part) => (text.Length - text.Replace(part, "").Length) / part.Length;
}
