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
    public void The_host_options_are_not_task_arguments_the_host_adds_the_targets_itself()
    {
        var options = CommandLine.Parse(["--target=Deploy", "--verbosity=quiet", "--x=1"]);

        Assert.Equal([new("x", "1")], options.Arguments);
        Assert.Equal(["Deploy"], options.EffectiveTargets);
    }

    [Fact]
    public void The_package_aliases()
    {
        var options = CommandLine.Parse(["--ver", "--showtree", "--showdescription", "--Target=X"]);

        Assert.True(options.Version);
        Assert.True(options.Tree);
        Assert.True(options.Description);
        Assert.Equal(["X"], options.Targets);
        Assert.True(CommandLine.Parse(["--descriptions"]).Description);
        Assert.True(CommandLine.Parse(["--showdescriptions"]).Description);
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
    public void Malformed_command_lines_are_rejected_naming_the_argument(string arg)
    {
        var exception = Assert.Throws<CommandLineException>(() => CommandLine.Parse([arg]));

        Assert.Contains(arg.Split('=')[0], exception.Message);
    }
}
