using System.Reflection;
using Cake.Core;
using Cake.Frosting.Internal;

namespace Frosting.Tests;

public sealed class FailuresTests
{
    private sealed class Coded(int code) : Exception("coded")
    {
        public int ExitCode { get; } = code;
    }

    private sealed class WrongType : Exception
    {
        public string ExitCode => "3";
    }

    [Fact]
    public void An_ExitCode_property_decides_through_every_wrapper()
    {
        var wrapped = new AggregateException(new TargetInvocationException(new CakeException("wrapper", new Coded(3))));

        Assert.Equal(3, Failures.ExitCode(wrapped));
        Assert.IsType<Coded>(Failures.Unwrap(wrapped));
    }

    [Fact]
    public void Without_a_usable_ExitCode_a_failure_is_1()
    {
        Assert.Equal(1, Failures.ExitCode(new InvalidOperationException()));
        Assert.Equal(1, Failures.ExitCode(new WrongType()));
        Assert.Equal(1, Failures.ExitCode(new Coded(0)));
        Assert.Equal(1, Failures.ExitCode(new Coded(-1)));
        Assert.Equal(1, Failures.ExitCode(new Coded(256)));
    }

    [Fact]
    public void Of_several_failures_the_highest_code_wins()
    {
        var several = new AggregateException(new Coded(1), new InvalidOperationException(), new Coded(3));

        Assert.Equal(3, Failures.ExitCode(several));
    }

    [Fact]
    public void A_derived_exception_of_the_build_is_not_unwrapped()
    {
        var failure = new Coded(2);
        var outer = new Coded(3);

        Assert.Same(failure, Failures.Unwrap(failure));
        Assert.Same(outer, Failures.Unwrap(outer));
    }
}
