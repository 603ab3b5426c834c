namespace TailnetSim;

/// <summary>Go-style flags: <c>--name=value</c>, <c>--name value</c> or a bare boolean <c>--name</c>.</summary>
internal sealed class Flags
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public List<string> Positional { get; } = [];

    public static Flags Parse(IReadOnlyList<string> args, IReadOnlySet<string> booleans, bool stopAtPositional)
    {
        var flags = new Flags();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith('-') || flags.Positional.Count > 0 && stopAtPositional)
            {
                flags.Positional.Add(arg);
                if (stopAtPositional)
                {
                    flags.Positional.AddRange(args.Skip(i + 1));
                    break;
                }
                continue;
            }
            var name = arg.TrimStart('-');
            var eq = name.IndexOf('=');
            if (eq >= 0) flags._values[name[..eq]] = name[(eq + 1)..];
            else if (booleans.Contains(name)) flags._values[name] = "true";
            else if (i + 1 < args.Count) flags._values[name] = args[++i];
            else flags._values[name] = "";
        }
        return flags;
    }

    public string? this[string name] => _values.TryGetValue(name, out var v) ? v : null;

    public bool Has(string name) => _values.ContainsKey(name);

    public static TimeSpan Duration(string? text, TimeSpan fallback)
    {
        if (string.IsNullOrEmpty(text)) return fallback;
        if (text.EndsWith("ms", StringComparison.Ordinal)) return TimeSpan.FromMilliseconds(double.Parse(text[..^2], System.Globalization.CultureInfo.InvariantCulture));
        if (text.EndsWith('s')) return TimeSpan.FromSeconds(double.Parse(text[..^1], System.Globalization.CultureInfo.InvariantCulture));
        if (text.EndsWith('m')) return TimeSpan.FromMinutes(double.Parse(text[..^1], System.Globalization.CultureInfo.InvariantCulture));
        return TimeSpan.FromSeconds(double.Parse(text, System.Globalization.CultureInfo.InvariantCulture));
    }
}
