using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Build.Settings;

/// <summary>One raw setting value and where it came from (used in every error message).</summary>
public sealed record SettingValue(string Value, string Origin);

/// <summary>
/// Resolves raw values in the contract's order: command-line argument, environment variable,
/// <c>deploy.json</c>, default. Typed parsing and validation live in each capability's group (<see cref="ISettingsGroup{TSelf}"/>).
/// </summary>
public sealed class SettingsSource
{
    private readonly Func<string, IReadOnlyList<string>> _arguments;
    private readonly Func<string, string?> _environment;
    private readonly JsonObject? _file;
    private readonly string _fileName;

    public SettingsSource(
        Func<string, IReadOnlyList<string>> arguments,
        Func<string, string?> environment,
        string? settingsFile,
        string? root = null)
    {
        Root = root ?? Directory.GetCurrentDirectory();
        _arguments = arguments;
        _environment = environment;
        _fileName = settingsFile is null ? "deploy.json" : Path.GetFileName(settingsFile);
        _file = settingsFile is not null && File.Exists(settingsFile) ? ReadFile(settingsFile) : null;
    }

    public Func<string, string?> Environment => _environment;

    /// <summary>The repository root: relative paths in settings are relative to it.</summary>
    public string Root { get; }

    /// <summary>The first source that has <paramref name="argument"/>, or null.</summary>
    public SettingValue? Get(string argument, string? variable = null)
    {
        var values = GetAll(argument, variable);
        return values.Count == 0 ? null : values[0] with { Value = string.Join(',', values.Select(v => v.Value)) };
    }

    /// <summary>
    /// Every value from the first source that has the setting: a repeated argument gives several,
    /// a variable or file value gives one (which may be a comma list).
    /// </summary>
    public IReadOnlyList<SettingValue> GetAll(string argument, string? variable = null)
    {
        var args = _arguments(argument);
        if (args.Count > 0) return args.Select(a => new SettingValue(a, $"--{argument}")).ToArray();

        if (variable is not null && _environment(variable) is { } env)
            return [new SettingValue(env, $"environment variable {variable}")];

        if (_file?[argument] is { } node)
        {
            var origin = $"\"{argument}\" in {_fileName}";
            return node switch
            {
                JsonArray array => array.Select(n => new SettingValue(Scalar(n, origin), origin)).ToArray(),
                _ => [new SettingValue(Scalar(node, origin), origin)],
            };
        }
        return [];
    }

    /// <summary>A secret: only ever from the environment (never an argument or the settings file).</summary>
    public SettingValue? Secret(string variable)
    {
        var value = _environment(variable);
        return string.IsNullOrEmpty(value) ? null : new SettingValue(value, $"environment variable {variable}");
    }

    private static string Scalar(JsonNode? node, string origin) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
        JsonValue v when v.TryGetValue<double>(out var d) => d.ToString(CultureInfo.InvariantCulture),
        _ => throw new SettingsException($"{origin} must be a string, number or boolean."),
    };

    private static JsonObject ReadFile(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path), documentOptions: new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new SettingsException($"{path} must hold a JSON object of settings.");
        }
        catch (JsonException e)
        {
            throw new SettingsException($"{path} is not valid JSON: {e.Message}", e);
        }
    }
}
