using Build.Settings;

namespace Build.Deployment.Health;

/// <summary>What happens to a server whose new release fails its health check.</summary>
public enum OnUnhealthy
{
    /// <summary>Switch it back to the release it served before (with <c>--switch=together</c>, every server of the run).</summary>
    SwitchBack,

    /// <summary>Only report it.</summary>
    Keep,
}

/// <summary>
/// The health check's settings (README's table): <c>--release-marker</c>, <c>--health-url</c>, <c>--health-timeout</c>,
/// <c>--health-host</c>, <c>--health-path</c>, <c>--on-unhealthy</c>. Without <c>--health-url</c> there is no check.
/// </summary>
public sealed record HealthSettings : ISettingsGroup<HealthSettings>
{
    public ReleaseMarker Marker { get; init; } = ReleaseMarker.Default;
    public HealthUrl? Url { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    public string? Host { get; init; }
    public IReadOnlyList<string> Paths { get; init; } = [];
    public OnUnhealthy OnUnhealthy { get; init; } = OnUnhealthy.SwitchBack;

    /// <summary>Each request's own bound, within <see cref="Timeout"/>.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public bool Enabled => Url is not null;

    /// <summary>A bound above the default lock timeout would let another run take a lock this run still holds.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(10);

    public static HealthSettings From(SettingsSource source) => new()
    {
        Marker = source.Get("release-marker", "DEPLOY_RELEASE_MARKER") is { } m ? ReleaseMarker.From(m) : ReleaseMarker.Default,
        Url = source.Get("health-url", "DEPLOY_HEALTH_URL") is { Value.Length: > 0 } u ? HealthUrl.From(u) : null,
        Timeout = source.Get("health-timeout", "DEPLOY_HEALTH_TIMEOUT") is { } t ? Parse.Duration(t, TimeSpan.FromSeconds(1), MaxTimeout) : TimeSpan.FromSeconds(30),
        Host = source.Get("health-host", "DEPLOY_HEALTH_HOST") is { } h ? HostOf(h) : null,
        Paths = PathsOf(source.GetAll("health-path", "DEPLOY_HEALTH_PATHS")),
        OnUnhealthy = source.Get("on-unhealthy", "DEPLOY_ON_UNHEALTHY") is { } o ? OnUnhealthyOf(o) : OnUnhealthy.SwitchBack,
    };

    /// <summary>
    /// Checks that need the selected servers: one URL without a placeholder would ask the same web server for every server.
    /// </summary>
    public void CheckFor(IReadOnlyList<DeployTarget> servers, string origin = "--health-url")
    {
        if (Url is { NamesServer: false } && servers.Count > 1)
            throw new SettingsException(
                $"{origin} \"{Url}\" has none of {{host}}, {{dns}} and {{server}}, but {servers.Count} servers are selected: every check would ask the same web server. " +
                "Put {host}, {dns} or {server} in the URL (DEPLOY_HEALTH_URL or deploy.json \"health-url\"), e.g. http://{host}/.well-known/release.");
    }

    private static string? HostOf(SettingValue value)
    {
        var host = value.Value.Trim();
        if (host.Length == 0) return null;
        // A host, optionally with a port: what a Host header holds.
        var name = host.StartsWith('[') ? host : host.Split(':')[0];
        if (Uri.CheckHostName(name.Trim('[', ']')) == UriHostNameType.Unknown || host.Count(c => c == ':') > 1 && !host.StartsWith('['))
            throw Parse.Error(value, "not a host name", "Give the name the web server answers to, such as blog.example.org.");
        return host;
    }

    private static IReadOnlyList<string> PathsOf(IReadOnlyList<SettingValue> values)
    {
        var result = new List<string>();
        foreach (var value in values)
        {
            foreach (var item in value.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!item.StartsWith('/') || item.StartsWith("//", StringComparison.Ordinal) || item.Any(c => char.IsControl(c) || c is ' ' or '#')
                    || !Uri.TryCreate("http://h" + item, UriKind.Absolute, out _))
                    throw Parse.Error(value, $"\"{item}\" is not a path", "Give paths on the same origin starting with '/', such as /,/atom.xml.");
                if (!result.Contains(item)) result.Add(item);
            }
        }
        return result;
    }

    private static OnUnhealthy OnUnhealthyOf(SettingValue value) => value.Value.Trim().ToLowerInvariant() switch
    {
        "switch-back" => OnUnhealthy.SwitchBack,
        "keep" => OnUnhealthy.Keep,
        _ => throw Parse.Error(value, "not one of switch-back, keep", "Pick switch-back (the default) or keep."),
    };
}
