using YamlDotNet.RepresentationModel;

namespace Build.Tests.GitLab.Runner;

/// <summary>A variable as .gitlab-ci.yml defines it: <c>NAME: value</c> or <c>NAME: {value, expand}</c>.</summary>
public sealed record CiVariable(string Name, string Value, bool Expand = true);

public enum CachePolicy { PullPush, Pull, Push }

/// <summary>One <c>cache:</c> entry: its key (a fixed string, or a prefix and the files whose content names it), paths and policy.</summary>
public sealed record CiCache(string? Key, string? KeyPrefix, IReadOnlyList<string> KeyFiles, IReadOnlyList<string> FallbackKeys, IReadOnlyList<string> Paths, CachePolicy Policy, string When);

public sealed record CiArtifacts(IReadOnlyList<string> Paths, string When);

/// <summary>One <c>needs:</c> entry.</summary>
public sealed record CiNeed(string Job, bool Artifacts);

/// <summary>A job with <c>default:</c> merged in: what a runner needs to run it.</summary>
public sealed record CiJob(
    string Name,
    IReadOnlyList<CiVariable> Variables,
    IReadOnlyList<string> BeforeScript,
    IReadOnlyList<string> Script,
    IReadOnlyList<string> AfterScript,
    IReadOnlyList<CiCache> Caches,
    CiArtifacts? Artifacts,
    IReadOnlyList<CiNeed>? Needs,
    IReadOnlyList<CiRule>? Rules,
    TimeSpan? Timeout,
    string? Environment);

/// <summary>
/// .gitlab-ci.yml read the way GitLab reads the parts a runner acts on: global and job variables,
/// the three script sections (nested sequences flattened, as <c>!reference</c> results are), caches
/// (anchors resolved), artifacts and needs, with <c>default:</c> filling what a job leaves out.
/// </summary>
public sealed class CiFile
{
    private static readonly HashSet<string> GlobalKeywords = ["default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script", "after_script", "spec"];

    private readonly YamlMappingNode _root;

    private CiFile(YamlMappingNode root) => _root = root;

    public static CiFile Load(string path)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(path);
        stream.Load(reader);
        return new CiFile((YamlMappingNode)stream.Documents[0].RootNode);
    }

    public IReadOnlyList<string> JobNames =>
        _root.Children.Keys.Select(k => ((YamlScalarNode)k).Value!)
            .Where(name => !name.StartsWith('.') && !GlobalKeywords.Contains(name))
            .ToList();

    public IReadOnlyList<CiVariable> Variables => ReadVariables(Get(_root, "variables"));

    public CiJob Job(string name)
    {
        var job = Get(_root, name) as YamlMappingNode ?? throw new ArgumentException($".gitlab-ci.yml has no job {name}");
        var defaults = Get(_root, "default") as YamlMappingNode;
        YamlNode? Inherited(string key) => Get(job, key) ?? (defaults is null ? null : Get(defaults, key));
        return new CiJob(
            name,
            ReadVariables(Get(job, "variables")),
            Lines(Inherited("before_script")),
            Lines(Get(job, "script")),
            Lines(Inherited("after_script")),
            ReadCaches(Inherited("cache")),
            Get(job, "artifacts") is YamlMappingNode artifacts
                ? new CiArtifacts(Strings(Get(artifacts, "paths")), Text(artifacts, "when") ?? "on_success")
                : null,
            Get(job, "needs") is YamlSequenceNode needs
                ? needs.Children.Select(n => n is YamlMappingNode m
                    ? new CiNeed(Text(m, "job")!, Text(m, "artifacts") != "false")
                    : new CiNeed(Scalar(n), true)).ToList()
                : null,
            ReadRules(Get(job, "rules")),
            Text(job, "timeout") is { } timeout ? GitLabDuration.Parse(timeout) : null,
            Get(job, "environment") switch
            {
                YamlScalarNode environmentName => environmentName.Value,
                YamlMappingNode environment => Text(environment, "name"),
                _ => null,
            });
    }

    public IReadOnlyList<CiRule>? WorkflowRules => Get(_root, "workflow") is { } workflow ? ReadRules(Get(workflow, "rules")) : null;

    private static IReadOnlyList<CiRule>? ReadRules(YamlNode? node) =>
        node is YamlSequenceNode rules
            ? rules.Children.Cast<YamlMappingNode>().Select(rule =>
            {
                var changes = Get(rule, "changes");
                return new CiRule(
                    Text(rule, "if"),
                    changes is YamlMappingNode withPaths ? Strings(Get(withPaths, "paths")) : changes is null ? null : Strings(changes),
                    changes is YamlMappingNode compared ? Text(compared, "compare_to") : null,
                    Text(rule, "when") ?? "on_success");
            }).ToList()
            : null;

    private static IReadOnlyList<CiVariable> ReadVariables(YamlNode? node) =>
        node is YamlMappingNode map
            ? map.Children.Select(kv => kv.Value is YamlMappingNode v
                ? new CiVariable(Scalar(kv.Key), Text(v, "value") ?? "", Text(v, "expand") != "false")
                : new CiVariable(Scalar(kv.Key), Scalar(kv.Value))).ToList()
            : [];

    private static IReadOnlyList<CiCache> ReadCaches(YamlNode? node) => node switch
    {
        YamlMappingNode one => [ReadCache(one)],
        YamlSequenceNode many => many.Children.Cast<YamlMappingNode>().Select(ReadCache).ToList(),
        _ => [],
    };

    private static CiCache ReadCache(YamlMappingNode cache)
    {
        var policy = Text(cache, "policy") switch
        {
            null or "pull-push" => CachePolicy.PullPush,
            "pull" => CachePolicy.Pull,
            "push" => CachePolicy.Push,
            var other => throw new InvalidDataException($"cache: unknown policy {other}"),
        };
        var key = Get(cache, "key");
        return new CiCache(
            key is YamlScalarNode fixedKey ? fixedKey.Value : key is null ? "default" : null,
            key is YamlMappingNode k ? Text(k, "prefix") : null,
            key is YamlMappingNode files ? Strings(Get(files, "files")) : [],
            Strings(Get(cache, "fallback_keys")),
            Strings(Get(cache, "paths")),
            policy,
            Text(cache, "when") ?? "on_success");
    }

    private static IReadOnlyList<string> Lines(YamlNode? node) => Flatten(node).ToList();

    private static IEnumerable<string> Flatten(YamlNode? node) => node switch
    {
        YamlScalarNode s => [s.Value ?? ""],
        YamlSequenceNode seq => seq.Children.SelectMany(Flatten),
        _ => [],
    };

    private static IReadOnlyList<string> Strings(YamlNode? node) => Flatten(node).ToList();

    private static YamlNode? Get(YamlNode node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Text(YamlNode node, string key) => Get(node, key) is YamlScalarNode s ? s.Value : null;

    private static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";
}
