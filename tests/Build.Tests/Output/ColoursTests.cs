using Build.Output;
using Build.Tests.Support;

namespace Build.Tests.Output;

public sealed class ColoursTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void A_terminal_has_colours_a_pipe_does_not(bool redirected, bool expected) =>
        Assert.Equal(expected, Colours.Enabled(Env(), redirected));

    [Fact]
    public void A_CI_other_than_GitLab_has_none_GitLab_has_them_FORCE_COLOR_forces_them_NO_COLOR_always_wins()
    {
        Assert.False(Colours.Enabled(Env(("CI", "true")), outputRedirected: false));
        Assert.True(Colours.Enabled(Env(("CI", "true"), ("GITLAB_CI", "true")), outputRedirected: true));
        Assert.True(Colours.Enabled(Env(("CI", "true"), ("FORCE_COLOR", "1")), outputRedirected: true));
        Assert.False(Colours.Enabled(Env(("FORCE_COLOR", "1"), ("NO_COLOR", "1")), outputRedirected: false));
        Assert.False(Colours.Enabled(Env(("GITLAB_CI", "true"), ("NO_COLOR", "1")), outputRedirected: false));
    }

    [Theory]
    [InlineData(null, null, false)]
    [InlineData("1", null, true)]
    [InlineData("1", "1", false)]
    public async Task The_program_piped_writes_escape_codes_only_when_forced(string? forceColor, string? noColor, bool expected)
    {
        using var dir = new TempDir("colours");
        var environment = new Dictionary<string, string> { ["TERM"] = "xterm-256color" };
        if (forceColor is not null) environment["FORCE_COLOR"] = forceColor;
        // Empty counts as unset: the test run itself may have NO_COLOR (its output is piped), and children inherit it.
        environment["NO_COLOR"] = noColor ?? "";

        // An unknown target: Cake's log writes the error in red when colours are on.
        var run = await PipelineProcess.RunAsync(["--target=Nope"], dir.Path, environment, TimeSpan.FromSeconds(60));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("Unknown target", run.Text);
        Assert.Equal(expected, run.Text.Contains('\u001b'));
    }
}
