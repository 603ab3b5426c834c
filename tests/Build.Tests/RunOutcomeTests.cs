using System.Reflection;
using System.Runtime.InteropServices;
using Build.Settings;
using Cake.Core;

namespace Build.Tests;

/// <summary>How the pipeline turns the host's result (0 or -1, as Cake.Frosting) into 0, 1, 2, 3, 130 or 143.</summary>
public sealed class RunOutcomeTests
{
    private const int HostFailed = -1;

    [Fact]
    public void A_recorded_failure_decides_through_every_wrapper()
    {
        var outcome = new RunOutcome();
        outcome.ContextCreated();
        outcome.Failed(new AggregateException(new TargetInvocationException(new CakeException("wrapper", new PipelineException("x", ExitCodes.SomeServersFailed)))));

        Assert.Equal(3, outcome.ExitCode(HostFailed, signal: null));
    }

    [Fact]
    public void A_settings_error_is_2_and_a_plain_failure_is_1()
    {
        Assert.Equal(2, RunOutcome.CodeOf(new SettingsException("bad")));
        Assert.Equal(1, RunOutcome.CodeOf(new InvalidOperationException()));
        Assert.Equal(1, RunOutcome.CodeOf(new PipelineException("code 0 is no failure code", 0)));
        Assert.Equal(1, RunOutcome.CodeOf(new PipelineException("nor is 256", 256)));
    }

    [Fact]
    public void Of_several_failures_the_highest_code_wins_and_the_first_recorded_is_kept()
    {
        Assert.Equal(3, RunOutcome.CodeOf(new AggregateException(new PipelineException("a"), new InvalidOperationException(), new PipelineException("b", 3))));

        var outcome = new RunOutcome();
        outcome.Failed(new SettingsException("first"));
        outcome.Failed(new PipelineException("later"));
        Assert.Equal(2, outcome.ExitCode(HostFailed, null));
    }

    [Fact]
    public void A_host_failure_before_the_context_is_bad_input_and_after_it_without_a_record_is_1()
    {
        Assert.Equal(2, new RunOutcome().ExitCode(HostFailed, null));

        var outcome = new RunOutcome();
        outcome.ContextCreated();
        Assert.Equal(1, outcome.ExitCode(HostFailed, null));
        Assert.Equal(0, outcome.ExitCode(0, null));
    }

    [Theory]
    [InlineData(PosixSignal.SIGINT, 130)]
    [InlineData(PosixSignal.SIGTERM, 143)]
    public void A_signal_decides_whatever_the_run_ended_with(PosixSignal signal, int expected)
    {
        var outcome = new RunOutcome();
        outcome.ContextCreated();
        outcome.Failed(new OperationCanceledException());

        Assert.Equal(expected, outcome.ExitCode(HostFailed, signal));
        Assert.Equal(expected, outcome.ExitCode(0, signal));
    }
}
