using System.Text.RegularExpressions;

namespace Build.Settings;

public static partial class ServerName
{
    public static bool IsValid(string name) => NamePattern().IsMatch(name);

    public static bool IsReleaseId(string id) => ReleasePattern().IsMatch(id);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$")]
    private static partial Regex ReleasePattern();
}
