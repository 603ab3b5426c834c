using System.Text.RegularExpressions;

namespace Build.Settings;

public static partial class ServerName
{
    public static bool IsValid(string name) => NamePattern().IsMatch(name);

    /// <summary>The release id rule (<see cref="Deployment.Release.ReleaseId"/>).</summary>
    public static bool IsReleaseId(string id) => Deployment.Release.ReleaseId.IsValid(id);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();
}
