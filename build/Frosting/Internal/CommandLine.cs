using Cake.Core.Diagnostics;

namespace Cake.Frosting.Internal;

/// <summary>What the command line asks of the host; every other argument goes to the tasks.</summary>
internal sealed record HostOptions
{
    public List<string> Targets { get; } = [];
    public Verbosity Verbosity { get; set; } = Verbosity.Normal;
    public bool DryRun { get; set; }
    public bool Tree { get; set; }
    public bool Description { get; set; }
    public bool Exclusive { get; set; }
    public bool Version { get; set; }
    public bool Info { get; set; }
    public bool Help { get; set; }
    public string? WorkingDirectory { get; set; }

    /// <summary>Arguments for <c>context.Arguments</c>, in command-line order (a name may repeat).</summary>
    public List<KeyValuePair<string, string>> Arguments { get; } = [];

    public IReadOnlyList<string> EffectiveTargets => Targets.Count > 0 ? Targets : [CommandLine.DefaultTarget];
}

/// <summary>
/// Parses Frosting's command line: <c>--name=value</c>, <c>--name value</c> and a bare <c>--flag</c>
/// (meaning "true"); the host's own options are taken out, everything else reaches the tasks.
/// </summary>
internal static class CommandLine
{
    public const string DefaultTarget = "Default";

    public const string Usage = """
        Usage: <program> [options] [--name=value ...]

        Options:
          -t, --target <name>       Task to run (repeatable). Default: Default
          -v, --verbosity <level>   quiet, minimal, normal, verbose or diagnostic
              --dryrun, --whatif, --noop
                                    List the tasks that would run; run nothing
              --tree, --showtree    Show the task dependency tree
              --description, --descriptions, --showdescription, --showdescriptions
                                    Show the task descriptions
          -e, --exclusive           Run the target without its dependencies
          -w, --working <dir>       Working directory
              --version, --ver      Show the version
              --info                Show version information
          -h, --help                Show this help
        Any other --name=value (or --name value, or --flag) is an argument for the tasks.
        """;

    /// <exception cref="CommandLineException">A malformed command line.</exception>
    public static HostOptions Parse(IReadOnlyList<string> args)
    {
        var options = new HostOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string name;
            string? value = null;
            var shortForm = false;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2)
            {
                name = arg[2..];
            }
            else if (arg.StartsWith('-') && arg.Length > 1 && !char.IsDigit(arg[1]))
            {
                name = arg[1..];
                shortForm = true;
            }
            else
            {
                throw new CommandLineException($"Unexpected argument '{arg}': arguments are given as --name=value.");
            }

            var eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else
            {
                // "-x=value" is rare; "-x value" and "--name value" take the next token when it is not an option.
                var next = i + 1 < args.Count ? args[i + 1] : null;
                if (next is not null && !LooksLikeOption(next) && TakesValue(name, shortForm))
                {
                    value = next;
                    i++;
                }
            }

            if (name.Length == 0)
            {
                throw new CommandLineException($"Unexpected argument '{arg}': an argument needs a name.");
            }

            Apply(options, name, value, shortForm, arg);
        }

        return options;
    }

    private static bool LooksLikeOption(string token) =>
        token.Length > 1 && token[0] == '-' && !char.IsDigit(token[1]);

    // Host flags never swallow the next token; every other name may carry a value.
    private static bool TakesValue(string name, bool shortForm) => Canonical(name, shortForm) switch
    {
        "dryrun" or "tree" or "description" or "exclusive" or "version" or "info" or "help" => false,
        _ => true,
    };

    private static string Canonical(string name, bool shortForm)
    {
        var lower = name.ToLowerInvariant();
        if (shortForm)
        {
            return name switch
            {
                "t" => "target",
                "v" => "verbosity",
                "e" => "exclusive",
                "w" => "working",
                "h" or "?" => "help",
                _ => lower,
            };
        }

        return lower switch
        {
            "whatif" or "noop" => "dryrun",
            "ver" => "version",
            "showtree" => "tree",
            "descriptions" or "showdescription" or "showdescriptions" => "description",
            _ => lower,
        };
    }

    private static void Apply(HostOptions options, string name, string? value, bool shortForm, string arg)
    {
        switch (Canonical(name, shortForm))
        {
            case "target":
                // The host adds every target to the arguments (Default when none), as Frosting does.
                options.Targets.Add(RequireValue(value, arg));
                break;
            case "verbosity":
                options.Verbosity = ParseVerbosity(RequireValue(value, arg));
                break;
            case "working":
                options.WorkingDirectory = RequireValue(value, arg);
                break;
            case "dryrun": options.DryRun = Flag(value, arg); break;
            case "tree": options.Tree = Flag(value, arg); break;
            case "description": options.Description = Flag(value, arg); break;
            case "exclusive": options.Exclusive = Flag(value, arg); break;
            case "version": options.Version = Flag(value, arg); break;
            case "info": options.Info = Flag(value, arg); break;
            case "help": options.Help = Flag(value, arg); break;
            default:
                options.Arguments.Add(new(name, value ?? "true"));
                break;
        }
    }

    private static string RequireValue(string? value, string arg) =>
        string.IsNullOrWhiteSpace(value)
            ? throw new CommandLineException($"'{arg}' needs a value, e.g. {arg.Split('=')[0]}=<value>.")
            : value;

    private static bool Flag(string? value, string arg) => value is null
        || (bool.TryParse(value, out var flag)
            ? flag
            : throw new CommandLineException($"'{arg}' is a switch: give it without a value, or =true/=false."));

    public static Verbosity ParseVerbosity(string value) => value.ToLowerInvariant() switch
    {
        "q" or "quiet" => Verbosity.Quiet,
        "m" or "minimal" => Verbosity.Minimal,
        "n" or "normal" => Verbosity.Normal,
        "v" or "verbose" => Verbosity.Verbose,
        "d" or "diag" or "diagnostic" => Verbosity.Diagnostic,
        _ => throw new CommandLineException(
            $"Unknown verbosity '{value}' for --verbosity (-v): use quiet, minimal, normal, verbose or diagnostic."),
    };
}

internal sealed class CommandLineException(string message) : Exception(message);
