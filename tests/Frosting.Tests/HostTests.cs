namespace Frosting.Tests;

/// <summary>The host driven as a real child process (tests/SampleHost), asserting on output and exit code.</summary>
public sealed class HostTests
{
    /// <summary>Cake.Frosting's -1, as the process exit status (one byte).</summary>
    private const int Failed = 255;

    [Fact]
    public async Task Dependencies_run_in_order_between_setup_and_teardown_and_the_report_follows()
    {
        var result = await SampleHostProcess.RunAsync("--target=C");

        Assert.Equal(0, result.ExitCode);
        result.AssertOrder("SETUP", "RUN A", "RUN B", "RUN C", "TEARDOWN-START successful=True", "TEARDOWN-END");
        // IsDependeeOf: Early declares itself a dependency of C.
        result.AssertOrder("RUN Early", "RUN C");
        result.AssertOrder("TASK-SETUP A", "RUN A", "TASK-TEARDOWN A", "TASK-SETUP B");
        Assert.Contains(result.Lines, l => l.Trim().StartsWith("Total:", StringComparison.Ordinal));
        Assert.True(result.Lines.ToList().FindIndex(l => l.Trim().StartsWith("Total:")) > result.IndexOf("TEARDOWN-END"));
    }

    [Fact]
    public async Task Without_a_target_Default_runs()
    {
        var result = await SampleHostProcess.RunAsync();

        Assert.Equal(0, result.ExitCode);
        result.AssertOrder("SETUP", "RUN A", "TEARDOWN-END");
        Assert.False(result.Has("RUN B"), result.Output);
    }

    [Theory]
    [InlineData("--exclusive")]
    [InlineData("-e")]
    public async Task Exclusive_runs_the_target_alone(string exclusive)
    {
        var result = await SampleHostProcess.RunAsync("-t", "C", exclusive);

        Assert.Equal(0, result.ExitCode);
        Assert.True(result.Has("RUN C"), result.Output);
        Assert.DoesNotContain(result.Lines, l => l.Trim() is "RUN A" or "RUN B" or "RUN Early");
    }

    [Fact]
    public async Task ShouldRun_false_skips_the_task_and_logs_it_and_the_dependents_still_run()
    {
        var skipped = await SampleHostProcess.RunAsync("--target=AfterSkippable", "--skip");
        var run = await SampleHostProcess.RunAsync("--target=AfterSkippable");

        Assert.Equal(0, skipped.ExitCode);
        Assert.False(skipped.Has("RUN Skippable"), skipped.Output);
        Assert.True(skipped.Has("RUN AfterSkippable"), skipped.Output);
        Assert.Contains("Skipping task Skippable: ShouldRun returned false.", skipped.Lines);
        Assert.Contains(skipped.Lines, l => l.Contains("Skippable") && l.Contains("Skipped"));

        Assert.Equal(0, run.ExitCode);
        run.AssertOrder("RUN Skippable", "RUN AfterSkippable");
    }

    [Fact]
    public async Task A_failing_task_stops_the_run_runs_Finally_and_the_teardown_and_exits_minus_1()
    {
        var result = await SampleHostProcess.RunAsync("--target=AfterFails");

        Assert.Equal(Failed, result.ExitCode);
        result.AssertOrder("SETUP", "RUN Fails", "FINALLY Fails", "TASK-TEARDOWN Fails", "TEARDOWN-START successful=False", "TEARDOWN-END");
        Assert.False(result.Has("RUN AfterFails"), result.Output);
        Assert.Contains("Error: boom", result.Lines);
        Assert.DoesNotContain(result.Lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OnError_handles_the_failure_as_in_Cake_and_Finally_runs()
    {
        var result = await SampleHostProcess.RunAsync("--target=Handled");

        Assert.Equal(0, result.ExitCode);
        result.AssertOrder("ONERROR Handled: handled boom", "FINALLY Handled", "TEARDOWN-END");
    }

    [Fact]
    public async Task ContinueOnError_lets_the_dependents_run()
    {
        var result = await SampleHostProcess.RunAsync("--target=AfterTolerant");

        Assert.Equal(0, result.ExitCode);
        Assert.True(result.Has("RUN AfterTolerant"), result.Output);
        Assert.Contains(result.Lines, l => l.Contains("Tolerant") && l.Contains("Failed"));
    }

    [Theory]
    [InlineData("2")]
    [InlineData("3")]
    public async Task Every_failure_exits_minus_1_as_in_Cake_Frosting_whatever_it_carries(string code)
    {
        // Exit codes are the build program's business (the pipeline maps its own around Run).
        var result = await SampleHostProcess.RunAsync("--target=Fails", $"--code={code}");

        Assert.Equal(Failed, result.ExitCode);
        Assert.True(result.Has("TEARDOWN-END"), result.Output);
    }

    [Fact]
    public async Task An_unknown_target_fails_listing_the_known_targets_and_runs_nothing()
    {
        var result = await SampleHostProcess.RunAsync("--target=Nope");

        Assert.Equal(Failed, result.ExitCode);
        var message = Assert.Single(result.Lines, l => l.Contains("Unknown target: 'Nope'"));
        foreach (var task in new[] { "A", "B", "C", "Early", "Default", "Fails", "Startup" })
        {
            Assert.Matches($@"Known targets:.*\b{task}\b", message);
        }

        Assert.False(result.Has("SETUP"), result.Output);
    }

    [Fact]
    public async Task Tree_shows_the_dependency_tree_and_runs_nothing()
    {
        var result = await SampleHostProcess.RunAsync("--tree");

        Assert.Equal(0, result.ExitCode);
        var c = result.IndexOf("C");
        Assert.True(c >= 0, result.Output);
        Assert.Equal("└─B", result.Lines[c + 1].Trim());
        Assert.Equal("└─A", result.Lines[c + 2].Trim());
        Assert.True(result.Lines[c + 2].IndexOf('└') > result.Lines[c + 1].IndexOf('└'), result.Output);
        Assert.DoesNotContain(result.Lines, l => l.StartsWith("RUN ") || l == "SETUP" || l.StartsWith("TEARDOWN"));
    }

    [Fact]
    public async Task Description_lists_the_tasks_with_their_descriptions()
    {
        var result = await SampleHostProcess.RunAsync("--description");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(result.Lines, l => l.Trim().StartsWith("B ") && l.Contains("Runs after A."));
        Assert.Contains(result.Lines, l => l.Trim().StartsWith("Default ") && l.Contains("The default target."));
        Assert.Contains(result.Lines, l => l.Trim() == "Startup");
        Assert.DoesNotContain(result.Lines, l => l.StartsWith("RUN ") || l == "SETUP");
    }

    [Theory]
    [InlineData("--dryrun")]
    [InlineData("--whatif")]
    [InlineData("--noop")]
    public async Task A_dry_run_lists_the_tasks_and_runs_nothing_not_even_setup(string dryRun)
    {
        var result = await SampleHostProcess.RunAsync(dryRun, "--target=C");

        Assert.Equal(0, result.ExitCode);
        result.AssertOrder("1. A", "2. B", "4. C");
        Assert.DoesNotContain(result.Lines, l => l.StartsWith("RUN ") || l.StartsWith("TASK-") || l == "SETUP" || l.StartsWith("TEARDOWN"));
    }

    [Fact]
    public async Task Arguments_reach_the_context_in_every_form_and_repeated_ones_keep_every_value()
    {
        var result = await SampleHostProcess.RunAsync(
            "--target", "Args", "--show=name", "--show", "flag", "--show=empty",
            "--name=a", "--name", "b", "--NAME=c", "--flag", "--empty=");

        Assert.Equal(0, result.ExitCode);
        Assert.True(result.Has("ARG name=[a|b|c]"), result.Output);
        Assert.True(result.Has("ARG flag=[true]"), result.Output);
        Assert.True(result.Has("ARG empty=[]"), result.Output);
    }

    [Fact]
    public async Task The_target_is_always_an_argument_Default_when_none_is_given_and_the_verbosity_never()
    {
        var given = await SampleHostProcess.RunAsync("-t", "Args", "--show=target", "--show=verbosity", "-v", "minimal");

        Assert.Equal(0, given.ExitCode);
        Assert.True(given.Has("ARG target=[Args]"), given.Output);
        Assert.True(given.Has("ARG verbosity=[]"), given.Output);
    }

    [Fact]
    public async Task UseStartup_registers_services_and_UseCakeSetting_sets_configuration()
    {
        var result = await SampleHostProcess.RunAsync("--target=Startup");

        Assert.Equal(0, result.ExitCode);
        Assert.True(result.Has("GREETING registered by UseStartup"), result.Output);
        Assert.True(result.Has("SETTING from UseCakeSetting"), result.Output);

        // The command line overrides it, as it overrides a cake.config value.
        var overridden = await SampleHostProcess.RunAsync("--target=Startup", "--sample_setting=from-the-command-line");
        Assert.True(overridden.Has("SETTING from-the-command-line"), overridden.Output);
    }

    [Theory]
    [InlineData("--showtree")]
    [InlineData("--descriptions")]
    [InlineData("--showdescription")]
    public async Task The_package_aliases_of_tree_and_description_work(string alias)
    {
        var result = await SampleHostProcess.RunAsync(alias);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(result.Lines, l => l.Trim().StartsWith('C'));
        Assert.DoesNotContain(result.Lines, l => l.StartsWith("RUN ") || l == "SETUP");
    }

    [Fact]
    public async Task A_bad_setting_while_building_the_context_prints_its_message_plainly_and_fails()
    {
        var result = await SampleHostProcess.RunAsync("--target=C", "--bad-setting=x");

        Assert.Equal(Failed, result.ExitCode);
        Assert.Contains("Error: Setting --bad-setting: 'x' is not valid; give a number.", result.Lines);
        Assert.DoesNotContain(result.Lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.False(result.Has("SETUP"), result.Output);
    }

    [Fact]
    public async Task At_diagnostic_verbosity_a_failure_shows_its_stack_trace()
    {
        var result = await SampleHostProcess.RunAsync("--target=C", "--bad-setting=x", "--verbosity=diagnostic");

        Assert.Equal(Failed, result.ExitCode);
        Assert.Contains(result.Lines, l => l.TrimStart().StartsWith("at SampleHost.SampleContext", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_working_directory_option_sets_the_context_working_directory()
    {
        var directory = Directory.CreateTempSubdirectory("frosting-tests-");
        try
        {
            var result = await SampleHostProcess.RunAsync("-t", "Where", "-w", directory.FullName);

            Assert.Equal(0, result.ExitCode);
            Assert.True(result.Has($"WORKDIR {directory.FullName}"), result.Output);
            // UseContext<T>: a task constructor can take the typed context, and it is the one the task runs with.
            Assert.True(result.Has("SAME-CONTEXT True"), result.Output);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_missing_working_directory_fails_naming_it()
    {
        var missing = Path.Join(Path.GetTempPath(), $"frosting-missing-{Guid.NewGuid():N}");

        var result = await SampleHostProcess.RunAsync("--working", missing);

        Assert.Equal(Failed, result.ExitCode);
        Assert.Contains(result.Lines, l => l.Contains(missing) && l.Contains("does not exist"));
    }

    [Theory]
    [InlineData("stray")]
    [InlineData("--verbosity=loud")]
    [InlineData("--target")]
    public async Task A_malformed_command_line_fails(string arg)
    {
        var result = await SampleHostProcess.RunAsync(arg);

        Assert.Equal(Failed, result.ExitCode);
        Assert.Contains(result.Lines, l => l.StartsWith("Error: "));
        Assert.False(result.Has("SETUP"), result.Output);
    }

    [Theory]
    [InlineData("--version")]
    [InlineData("--ver")]
    public async Task Version_prints_a_version_and_runs_nothing(string version)
    {
        var result = await SampleHostProcess.RunAsync(version);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(result.Lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"\d+\.\d+"));
        Assert.False(result.Has("SETUP"), result.Output);
    }
}
