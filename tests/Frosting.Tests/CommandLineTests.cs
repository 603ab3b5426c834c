using Cake.Core.Diagnostics;
using Cake.Frosting.Internal;

namespace Frosting.Tests;

public sealed class CommandLineTests
{
    [Fact]
    public void Host_options_in_long_short_and_alias_forms()
    {
        var options = CommandLine.Parse(["-t", "A", "--target=B", "-v", "diagnostic", "--whatif", "-e", "-w", "/tmp", "--tree", "--description"]);

        Assert.Equal(["A", "B"], options.Targets);
        Assert.Equal(Verbosity.Diagnostic, options.Verbosity);
        Assert.True(options.DryRun);
        Assert.True(options.Exclusive);
        Assert.True(options.Tree);
        Assert.True(options.Description);
        Assert.Equal("/tmp", options.WorkingDirectory);
    }

    [Fact]
    public void Defaults()
    {
        var options = CommandLine.Parse([]);

        Assert.Equal(["Default"], options.EffectiveTargets);
        Assert.Equal(Verbosity.Normal, options.Verbosity);
        Assert.False(options.DryRun || options.Tree || options.Description || options.Exclusive || options.Version || options.Info);
    }

    [Fact]
    public void Other_arguments_keep_their_order_and_every_value_and_a_bare_flag_means_true()
    {
        var options = CommandLine.Parse(["--server=a", "--plan", "--server", "b", "--retries", "-1", "--dryrun", "--x="]);

        Assert.Equal(
            [new("server", "a"), new("plan", "true"), new("server", "b"), new("retries", "-1"), new("x", "")],
            options.Arguments);
        Assert.True(options.DryRun);
    }

    [Fact]
    public void A_switch_never_swallows_the_next_token_but_accepts_an_explicit_boolean()
    {
        var options = CommandLine.Parse(["--tree", "--exclusive=false", "--noop=true"]);

        Assert.True(options.Tree);
        Assert.False(options.Exclusive);
        Assert.True(options.DryRun);
        Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--tree=maybe"]));
    }

    [Fact]
    public void The_target_also_reaches_the_arguments_as_in_Frosting()
    {
        var options = CommandLine.Parse(["--target=Deploy"]);

        Assert.Contains(new KeyValuePair<string, string>("target", "Deploy"), options.Arguments);
    }

    [Theory]
    [InlineData("q", Verbosity.Quiet)]
    [InlineData("Minimal", Verbosity.Minimal)]
    [InlineData("normal", Verbosity.Normal)]
    [InlineData("v", Verbosity.Verbose)]
    [InlineData("diag", Verbosity.Diagnostic)]
    public void Verbosity_names(string value, Verbosity expected) =>
        Assert.Equal(expected, CommandLine.ParseVerbosity(value));

    [Theory]
    [InlineData("positional")]
    [InlineData("--target")]
    [InlineData("--target=")]
    [InlineData("-v=loud")]
    [InlineData("--=x")]
    public void Malformed_command_lines_are_rejected_with_exit_code_2(string arg)
    {
        var exception = Assert.Throws<CommandLineException>(() => CommandLine.Parse([arg]));

        Assert.Equal(2, exception.ExitCode);
        Assert.Contains(arg.Split('=')[0], exception.Message);
    }
}
