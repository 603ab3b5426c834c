namespace Build.Settings;

/// <summary>An explicit deploy target from <c>--hosts</c>.</summary>
public sealed record HostEntry(string Name, string Address, int? Port);
