using System.Globalization;
using System.Text.RegularExpressions;

namespace Bench;

/// <summary>A bad option: the message says which one and how to fix it (exit code 2).</summary>
public sealed class BenchOptionsException(string message) : Exception(message);

/// <summary>The benchmark's options, parsed from <c>--bench-NAME=VALUE</c> (or <c>--bench-NAME VALUE</c>).</summary>
public sealed record BenchOptions
{
    public static readonly IReadOnlyList<string> AllContenders = ["deploy", "rsync-sequential", "rsync-parallel", "tar-ssh"];
    /// <summary>Readers of a real nginx during 10 deploys in a row (<see cref="Bench.DuringDeploy"/>).</summary>
    public const string DuringDeploy = "during-deploy";

    public static readonly IReadOnlyList<string> AllScenarios = ["cold", "rebuild", "cold-capped", "rebuild-capped", DuringDeploy];

    /// <summary>
    /// What runs without --bench-scenarios: all but during-deploy, whose 10 deploys and 10 rsyncs under readers took
    /// about 90 s a run on the 2-core machine, 4.5 minutes at the default 3 runs (over the 3 minutes it may add).
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultScenarios = ["cold", "rebuild", "cold-capped", "rebuild-capped"];

    /// <summary>Whether a scenario deploys the Hexo site the benchmark builds (all but during-deploy, which writes its own).</summary>
    public static bool UsesHexoSite(string scenario) => scenario != DuringDeploy;

    /// <summary>Whether a scenario deploys a rebuild over the first build (rebuild, rebuild-capped).</summary>
    public static bool IsRebuild(string scenario) => scenario.StartsWith("rebuild", StringComparison.Ordinal);

    /// <summary>Whether a scenario sends through one uplink shared by all servers (<see cref="UplinkBytesPerSecond"/>).</summary>
    public static bool IsCapped(string scenario) => scenario.EndsWith("-capped", StringComparison.Ordinal);

    public int Posts { get; init; } = 1000;
    public int Servers { get; init; } = 4;
    public TimeSpan Rtt { get; init; } = TimeSpan.FromMilliseconds(40);

    /// <summary>Bytes per second per direction per connection; null for unlimited.</summary>
    public long? BandwidthBytesPerSecond { get; init; }

    /// <summary>The one uplink all servers share in the -capped scenarios, bytes per second (20 Mbit/s).</summary>
    public long UplinkBytesPerSecond { get; init; } = 20_000_000 / 8;

    public int Runs { get; init; } = 3;
    public IReadOnlyList<string> Contenders { get; init; } = AllContenders;
    public IReadOnlyList<string> Scenarios { get; init; } = DefaultScenarios;

    /// <summary>The Hexo site to copy (default: site/ of the repository).</summary>
    public string? Site { get; init; }

    /// <summary>Where bench.json goes (default: artifacts/bench.json of the repository).</summary>
    public string? Output { get; init; }

    private static readonly string[] Names =
        ["posts", "servers", "rtt", "bandwidth", "uplink", "runs", "contenders", "scenarios", "site", "output"];

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--bench-", StringComparison.Ordinal))
                throw new BenchOptionsException($"Unexpected argument '{arg}'. The benchmark takes --bench-NAME=VALUE options: {string.Join(", ", Names.Select(n => "--bench-" + n))}.");
            var body = arg["--bench-".Length..];
            string name, value;
            if (body.IndexOf('=') is var eq and >= 0)
            {
                name = body[..eq];
                value = body[(eq + 1)..];
            }
            else
            {
                name = body;
                if (i + 1 >= args.Count) throw new BenchOptionsException($"--bench-{name} needs a value (--bench-{name}=VALUE).");
                value = args[++i];
            }
            options = name.ToLowerInvariant() switch
            {
                "posts" => options with { Posts = PositiveInt(name, value) },
                "servers" => options with { Servers = PositiveInt(name, value) },
                "runs" => options with { Runs = PositiveInt(name, value) },
                "rtt" => options with { Rtt = ParseRtt(value) },
                "bandwidth" => options with { BandwidthBytesPerSecond = ParseBandwidth(value) },
                "uplink" => options with
                {
                    UplinkBytesPerSecond = ParseBandwidth(value, "uplink")
                        ?? throw new BenchOptionsException("--bench-uplink must be a rate (the -capped scenarios cap the shared uplink), e.g. --bench-uplink=20mbit."),
                },
                "contenders" => options with { Contenders = List(name, value, AllContenders) },
                "scenarios" => options with { Scenarios = List(name, value, AllScenarios) },
                "site" => options with { Site = NonEmpty(name, value) },
                "output" => options with { Output = NonEmpty(name, value) },
                _ => throw new BenchOptionsException($"Unknown option --bench-{name}. Known: {string.Join(", ", Names.Select(n => "--bench-" + n))}."),
            };
        }
        return options;
    }

    /// <summary>"40ms", "0.04s", "40" (milliseconds); zero allowed (no added latency).</summary>
    public static TimeSpan ParseRtt(string value)
    {
        var m = Regex.Match(value.Trim(), @"^(\d+(?:\.\d+)?)\s*(ms|s)?$", RegexOptions.IgnoreCase);
        if (!m.Success)
            throw new BenchOptionsException($"--bench-rtt '{value}' is not a duration. Use milliseconds or seconds, e.g. --bench-rtt=40ms or --bench-rtt=0.1s.");
        var number = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value.Equals("s", StringComparison.OrdinalIgnoreCase) ? TimeSpan.FromSeconds(number) : TimeSpan.FromMilliseconds(number);
    }

    /// <summary>"unlimited", or a rate: "100mbit", "1gbit", "500kbit" (bits/s) or "10MB", "512KB" (bytes/s, 1000-based).</summary>
    public static long? ParseBandwidth(string value, string name = "bandwidth")
    {
        var text = value.Trim();
        if (text.Equals("unlimited", StringComparison.OrdinalIgnoreCase) || text.Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        var m = Regex.Match(text, @"^(\d+(?:\.\d+)?)\s*(k|m|g)?(bit|b)(?:/s|ps)?$", RegexOptions.IgnoreCase);
        if (!m.Success)
            throw new BenchOptionsException($"--bench-{name} '{value}' is not a rate. Use e.g. --bench-{name}=100mbit, =10MB (bytes per second) or =unlimited.");
        var number = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var scale = m.Groups[2].Value.ToLowerInvariant() switch { "k" => 1e3, "m" => 1e6, "g" => 1e9, _ => 1.0 };
        // "b" in lower case after a prefix is ambiguous; only the word "bit" means bits, "B"/"b" means bytes.
        var bytes = m.Groups[3].Value.Equals("bit", StringComparison.OrdinalIgnoreCase) ? number * scale / 8 : number * scale;
        if (bytes < 1) throw new BenchOptionsException($"--bench-{name} '{value}' is below one byte per second.");
        return (long)bytes;
    }

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new BenchOptionsException($"--bench-{name} '{value}' must be a whole number above zero, e.g. --bench-{name}=3.");

    private static string NonEmpty(string name, string value) =>
        string.IsNullOrWhiteSpace(value) ? throw new BenchOptionsException($"--bench-{name} is empty: give a path.") : value;

    private static IReadOnlyList<string> List(string name, string value, IReadOnlyList<string> known)
    {
        var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToArray();
        if (items.Length == 0) throw new BenchOptionsException($"--bench-{name} is empty. Choose from: {string.Join(",", known)}.");
        foreach (var item in items)
            if (!known.Contains(item))
                throw new BenchOptionsException($"--bench-{name}: unknown '{item}'. Choose from: {string.Join(",", known)}.");
        // Keep the canonical order so tables read the same whatever order was typed.
        return known.Where(items.Contains).ToArray();
    }
}
