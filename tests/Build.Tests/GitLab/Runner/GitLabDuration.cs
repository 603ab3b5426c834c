using System.Globalization;
using System.Text.RegularExpressions;

namespace Build.Tests.GitLab.Runner;

/// <summary>GitLab's durations as this project writes them: <c>30m</c>, <c>1h 30m</c>, <c>90s</c>, <c>20 minutes</c>.</summary>
public static partial class GitLabDuration
{
    public static TimeSpan Parse(string text)
    {
        var parts = Part().Matches(text);
        if (parts.Count == 0 || Part().Replace(text, "").Trim().Length > 0) throw new FormatException($"not a GitLab duration: {text}");
        return parts.Aggregate(TimeSpan.Zero, (sum, m) =>
        {
            var n = double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
            return sum + m.Groups["unit"].Value[0] switch
            {
                'h' => TimeSpan.FromHours(n),
                'm' => TimeSpan.FromMinutes(n),
                _ => TimeSpan.FromSeconds(n),
            };
        });
    }

    [GeneratedRegex(@"(?<n>\d+(\.\d+)?)\s*(?<unit>h(ours?)?|m(in(ute)?s?)?|s(ec(ond)?s?)?)\b")]
    private static partial Regex Part();
}
