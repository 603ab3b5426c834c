namespace Build.Settings;

/// <summary>
/// <c>--site-dir</c>: check and deploy an already-built directory instead of building <c>site/</c>.
/// A missing or empty directory is refused here, before anything runs.
/// </summary>
public sealed record SiteSettings(string? SiteDir) : ISettingsGroup<SiteSettings>
{
    public static SiteSettings From(SettingsSource source)
    {
        if (source.Get("site-dir", "DEPLOY_SITE_DIR") is not { Value.Length: > 0 } value) return new SiteSettings((string?)null);
        var dir = Path.GetFullPath(Paths.ExpandHome(value.Value), source.Root);
        if (!Directory.Exists(dir))
            throw Parse.Error(value, $"{dir} does not exist", "Give the directory of an already-built site, or leave the setting out to build site/.");
        // An empty directory would take every page off the servers.
        if (!Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Any())
            throw Parse.Error(value, $"{dir} holds no files", "Give the directory of an already-built site; an empty one would take every page off the servers.");
        return new SiteSettings(dir);
    }
}
