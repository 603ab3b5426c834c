using System.Text.RegularExpressions;
using Build.Settings;

namespace Build.Deployment.Health;

/// <summary>
/// The path, inside every release, of the file holding its release id (<c>--release-marker</c>). Plain segments of
/// letters, digits, '.', '_' and '-' only, because the server script receives it on a command line.
/// </summary>
public sealed partial record ReleaseMarker
{
    public const string DefaultPath = ".well-known/release";

    private ReleaseMarker(string path) => Path = path;

    /// <summary>Relative to the release's root, '/'-separated, no leading slash.</summary>
    public string Path { get; }

    public static ReleaseMarker Default { get; } = new(DefaultPath);

    /// <summary>The marker's path, or null with the reason.</summary>
    public static ReleaseMarker? TryParse(string text, out string? problem)
    {
        var path = text.Trim().TrimStart('/');
        problem = path.Length == 0 ? "empty"
            : path.Length > 200 ? "longer than 200 characters"
            : path.EndsWith('/') ? "names a directory, not a file"
            : path.Split('/').Any(s => !Segment().IsMatch(s)) ? "not a plain relative path (segments of letters, digits, '.', '_' or '-'; no '.', '..' or empty segments)"
            : null;
        return problem is null ? new ReleaseMarker(path) : null;
    }

    public static ReleaseMarker From(SettingValue value) =>
        TryParse(value.Value, out var problem) ?? throw Parse.Error(value, problem!, "Give a file path inside the site, such as .well-known/release.");

    /// <summary>The URL path that serves it from the site's root: <c>/.well-known/release</c>.</summary>
    public string UrlPath => "/" + Path;

    public override string ToString() => Path;

    [GeneratedRegex(@"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex Segment();
}
