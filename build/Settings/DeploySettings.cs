namespace Build.Settings;

public enum SwitchMode { Together, Independent }

/// <summary>
/// How a deploy, rollback, listing or unlock treats the servers: <c>--remote-root</c>,
/// <c>--keep-releases</c>, <c>--parallel</c>, <c>--switch</c>, <c>--plan</c>, <c>--release</c>,
/// <c>--retries</c>/<c>--retry-delay</c>, <c>--lock-timeout</c>, <c>--lock-wait</c>, <c>--force-unlock</c>.
/// </summary>
public sealed record DeploySettings : ISettingsGroup<DeploySettings>
{
    public required string RemoteRoot { get; init; }
    public required int KeepReleases { get; init; }
    public required int Parallel { get; init; }
    public required SwitchMode Switch { get; init; }
    public required bool Plan { get; init; }
    public required string? Release { get; init; }
    public required RetrySettings Retry { get; init; }
    public required TimeSpan LockTimeout { get; init; }
    public required TimeSpan LockWait { get; init; }
    public required bool ForceUnlock { get; init; }

    public static DeploySettings From(SettingsSource source)
    {
        int Integer(string arg, string variable, int fallback, int min, int max) =>
            source.Get(arg, variable) is { } v ? Parse.Integer(v, min, max) : fallback;
        TimeSpan Duration(string arg, string variable, string fallback, TimeSpan min, TimeSpan max) =>
            Parse.Duration(source.Get(arg, variable) ?? new SettingValue(fallback, "default"), min, max);

        return new DeploySettings
        {
            RemoteRoot = RemoteRootFrom(source),
            KeepReleases = Integer("keep-releases", "DEPLOY_KEEP_RELEASES", 5, 1, 1000),
            Parallel = Integer("parallel", "DEPLOY_PARALLEL", 8, 1, 256),
            Switch = source.Get("switch", "DEPLOY_SWITCH") is { } s ? Parse.Choice<SwitchMode>(s) : SwitchMode.Together,
            Plan = source.Get("plan", "DEPLOY_PLAN") is { } p && Parse.Flag(p),
            Release = ReleaseOf(source.Get("release", "DEPLOY_RELEASE")),
            Retry = RetrySettings.From(source),
            LockTimeout = Duration("lock-timeout", "DEPLOY_LOCK_TIMEOUT", "2m", TimeSpan.FromSeconds(10), TimeSpan.FromHours(24)),
            LockWait = Duration("lock-wait", "DEPLOY_LOCK_WAIT", "2m", TimeSpan.Zero, TimeSpan.FromHours(24)),
            ForceUnlock = source.Get("force-unlock", "DEPLOY_FORCE_UNLOCK") is { } force && Parse.Flag(force),
        };
    }

    /// <summary>The <c>--remote-root</c> setting, validated (also read by the <c>--hosts</c> check).</summary>
    public static string RemoteRootFrom(SettingsSource source) =>
        RemoteRootOf(source.Get("remote-root", "DEPLOY_ROOT") ?? new SettingValue("/var/www/blog", "default"));

    private static string RemoteRootOf(SettingValue value) =>
        Deployment.RemoteRoot.Parse(value.Value, out var problem)?.Path
        ?? throw Parse.Error(value, problem!, "Give a plain absolute directory of its own, such as /var/www/blog (without ., .. or empty segments).");

    private static string? ReleaseOf(SettingValue? value)
    {
        if (value is null || value.Value.Length == 0) return null;
        if (!ServerName.IsReleaseId(value.Value))
            throw Parse.Error(value, "not a release id", "Release ids look like 20261125T120000Z-1a2b3c4d; `--target=Releases` lists them.");
        return value.Value;
    }
}
