namespace Build.Settings;

/// <summary>
/// One capability's settings (SSH, deploy, tailnet, ...), resolved from a <see cref="SettingsSource"/>
/// and validated by its own <c>From</c>. A bad value throws <see cref="SettingsException"/> (exit 2)
/// naming the setting and where its value came from.
/// </summary>
public interface ISettingsGroup<TSelf> where TSelf : class, ISettingsGroup<TSelf>
{
    static abstract TSelf From(SettingsSource source);
}
