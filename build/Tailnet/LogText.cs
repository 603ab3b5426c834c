using Cake.Core.Diagnostics;

namespace Build.Tailnet;

/// <summary>Writes text as-is: Cake's log treats its first argument as a format string, and messages here may hold braces.</summary>
internal static class LogText
{
    public static void Info(this ICakeLog log, string message) => log.Write(Verbosity.Normal, LogLevel.Information, "{0}", message);

    public static void Warn(this ICakeLog log, string message) => log.Write(Verbosity.Minimal, LogLevel.Warning, "{0}", message);

    public static void Detail(this ICakeLog log, string message) => log.Write(Verbosity.Verbose, LogLevel.Verbose, "{0}", message);
}
