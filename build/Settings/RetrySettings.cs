namespace Build.Settings;

/// <summary><c>--retries</c> and <c>--retry-delay</c>: shared by every group that talks over the network.</summary>
public sealed record RetrySettings(int Attempts, TimeSpan Delay)
{
    public static RetrySettings From(SettingsSource source) => new(
        source.Get("retries", "DEPLOY_RETRIES") is { } v ? Parse.Integer(v, 1, 20) : 3,
        Parse.Duration(source.Get("retry-delay", "DEPLOY_RETRY_DELAY") ?? new SettingValue("2s", "default"),
            TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10)));
}
