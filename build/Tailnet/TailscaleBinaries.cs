using Build.Processes;
using Build.Settings;

namespace Build.Tailnet;

/// <summary>Where <c>tailscale</c> and <c>tailscaled</c> are: <c>PATH</c>, then /usr/sbin and /usr/bin (Alpine's places).</summary>
public sealed record TailscaleBinaries(string Cli, string Daemon)
{
    public static readonly IReadOnlyList<string> FallbackDirectories = ["/usr/sbin", "/usr/bin"];

    /// <summary>The CLI (for <c>existing</c> mode, which never starts a daemon).</summary>
    public static string LocateCli(Func<string, string?> environment) => Locate("tailscale", environment);

    public static TailscaleBinaries LocateBoth(Func<string, string?> environment) =>
        new(Locate("tailscale", environment), Locate("tailscaled", environment));

    public static string Locate(string name, Func<string, string?> environment) =>
        Find(name, environment) ?? throw new SettingsException(
            $"{name} was not found on PATH, in /usr/sbin or in /usr/bin. Install Tailscale (Alpine: `apk add tailscale`; Debian/Ubuntu: see https://tailscale.com/download/linux) or put {name} on PATH.");

    public static string? Find(string name, Func<string, string?> environment) =>
        ToolLocator.Find(name, environment("PATH"), FallbackDirectories);
}
