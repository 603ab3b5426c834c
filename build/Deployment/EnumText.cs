using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json.Serialization;

namespace Build.Deployment;

/// <summary>
/// The one text of an enum value: its <see cref="JsonStringEnumMemberNameAttribute"/> (kebab-case), so the log, the
/// tables and the JSON say the same word.
/// </summary>
public static class EnumText
{
    private static readonly ConcurrentDictionary<Enum, string> Cache = new();

    public static string Text<T>(this T value) where T : struct, Enum =>
        Cache.GetOrAdd(value, v => v.GetType().GetField(v.ToString())?.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name
            ?? v.ToString().ToLowerInvariant());
}
