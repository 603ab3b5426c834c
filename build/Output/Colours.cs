namespace Build.Output;

/// <summary>
/// Whether the pipeline's output carries ANSI colours: never with <c>NO_COLOR</c>; always with
/// <c>FORCE_COLOR</c>; in GitLab CI yes (its log renders them); otherwise not when the output is piped
/// or in any other CI (a log file full of escape codes). Cake's console and Spectre.Console both honour
/// <c>NO_COLOR</c>, so turning colours off is setting it for this process (children inherit it).
/// </summary>
public static class Colours
{
    public static bool Enabled(Func<string, string?> environment, bool outputRedirected)
    {
        if (Set(environment("NO_COLOR"))) return false;
        if (Set(environment("FORCE_COLOR"))) return true;
        if (environment("GITLAB_CI") == "true") return true;
        if (Set(environment("CI"))) return false;
        return !outputRedirected;
    }

    /// <summary>Sets <c>NO_COLOR</c> when colours are off; with <c>FORCE_COLOR</c> and no colour terminal named, names one (Cake reads <c>TERM</c>).</summary>
    public static void Apply(Func<string, string?> environment, bool outputRedirected, Action<string, string?> set)
    {
        if (!Enabled(environment, outputRedirected))
        {
            set("NO_COLOR", "1");
            return;
        }
        if (Set(environment("FORCE_COLOR")) && environment("TERM") is null or "" or "dumb")
            set("TERM", "xterm-256color");
    }

    private static bool Set(string? value) => !string.IsNullOrEmpty(value);
}
