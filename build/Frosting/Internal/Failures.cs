using System.Reflection;
using Cake.Core;

namespace Cake.Frosting.Internal;

/// <summary>
/// Maps a failure to the process exit code. An exception that carries a public int <c>ExitCode</c>
/// property decides the code (read by reflection, so the host knows no pipeline type); anything else is 1.
/// </summary>
internal static class Failures
{
    public const int Failed = 1;

    /// <summary>Strips the wrappers the engine, DI and async plumbing put around the real failure.</summary>
    public static Exception Unwrap(Exception exception)
    {
        while (true)
        {
            switch (exception)
            {
                case AggregateException { InnerExceptions.Count: 1 } aggregate:
                    exception = aggregate.InnerExceptions[0];
                    continue;
                case TargetInvocationException { InnerException: { } inner }:
                    exception = inner;
                    continue;
                // Cake's own exceptions around another one (e.g. the engine's CakeReportException) are only carriers.
                case { InnerException: { } inner } when exception.GetType().Assembly == typeof(CakeException).Assembly:
                    exception = inner;
                    continue;
                default:
                    return exception;
            }
        }
    }

    public static int ExitCode(Exception exception)
    {
        var failure = Unwrap(exception);
        if (failure is AggregateException aggregate)
        {
            // Several failures: the most specific (highest) code wins, so a 3 is not hidden by a 1.
            return aggregate.InnerExceptions.Select(ExitCode).DefaultIfEmpty(Failed).Max();
        }

        var property = failure.GetType().GetProperty("ExitCode", BindingFlags.Public | BindingFlags.Instance);
        if (property?.PropertyType == typeof(int) && property.GetIndexParameters().Length == 0)
        {
            var code = (int)property.GetValue(failure)!;
            // A failure never exits 0, and exit codes are a byte on POSIX.
            return code is > 0 and <= 255 ? code : Failed;
        }

        return Failed;
    }
}
