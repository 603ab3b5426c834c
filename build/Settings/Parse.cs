using System.Globalization;
using System.Text.RegularExpressions;

namespace Build.Settings;

/// <summary>Typed parsing of raw values; every error names the setting and where its value came from.</summary>
public static partial class Parse
{
    public static SettingsException Error(SettingValue value, string problem, string fix) =>
        new($"{value.Origin} = \"{value.Value}\": {problem}. {fix}");

    /// <summary><c>90s</c>, <c>2m</c>, <c>1h</c>, <c>500ms</c> or plain seconds.</summary>
    public static TimeSpan Duration(SettingValue value)
    {
        var m = DurationPattern().Match(value.Value.Trim());
        if (!m.Success || !double.TryParse(m.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
            throw Error(value, "not a duration", "Write it as 90s, 2m, 1h, 500ms or a number of seconds.");
        return m.Groups[2].Value.ToLowerInvariant() switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "" or "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            _ => throw Error(value, "unknown unit", "Use ms, s, m or h."),
        };
    }

    /// <summary>A duration within [<paramref name="min"/>, <paramref name="max"/>]; outside it, a settings error naming the range.</summary>
    public static TimeSpan Duration(SettingValue value, TimeSpan min, TimeSpan max)
    {
        var duration = Duration(value);
        if (duration < min || duration > max)
            throw Error(value, $"out of range ({Show(min)} to {Show(max)})", $"Give a duration from {Show(min)} to {Show(max)}.");
        return duration;
    }

    private static string Show(TimeSpan span) => span switch
    {
        { Ticks: 0 } => "0",
        { TotalHours: >= 1 } when span.TotalHours % 1 == 0 => $"{span.TotalHours:0} h",
        { TotalMinutes: >= 1 } when span.TotalMinutes % 1 == 0 => $"{span.TotalMinutes:0} min",
        { TotalSeconds: >= 1 } when span.TotalSeconds % 1 == 0 => $"{span.TotalSeconds:0} s",
        _ => $"{span.TotalMilliseconds:0} ms",
    };

    public static int Integer(SettingValue value, int min, int max)
    {
        if (!int.TryParse(value.Value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
            throw Error(value, $"not a whole number from {min} to {max}", $"Give a number from {min} to {max}.");
        return n;
    }

    public static bool Flag(SettingValue value) => value.Value.Trim().ToLowerInvariant() switch
    {
        "" or "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" => false,
        _ => throw Error(value, "not a boolean", "Use true or false."),
    };

    public static T Choice<T>(SettingValue value) where T : struct, Enum
    {
        var names = Enum.GetNames<T>().Select(n => n.ToLowerInvariant()).ToArray();
        var text = value.Value.Trim().ToLowerInvariant();
        if (Array.IndexOf(names, text) < 0)
            throw Error(value, "not one of " + string.Join(", ", names), "Pick one of " + string.Join(", ", names) + ".");
        return Enum.Parse<T>(text, ignoreCase: true);
    }

    /// <summary>A comma list (or several repeated values); empty items are dropped.</summary>
    public static IReadOnlyList<string> List(IEnumerable<SettingValue> values) =>
        values.SelectMany(v => v.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToArray();

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?$", RegexOptions.IgnoreCase)]
    private static partial Regex DurationPattern();
}
