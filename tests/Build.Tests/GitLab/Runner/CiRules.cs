using System.Text.RegularExpressions;

namespace Build.Tests.GitLab.Runner;

/// <summary>One entry of <c>rules:</c> (or <c>workflow:rules:</c>).</summary>
public sealed record CiRule(string? If, IReadOnlyList<string>? Changes, string? CompareTo, string When);

/// <summary>What started a pipeline, as rules see it.</summary>
public sealed record PipelineTrigger
{
    /// <summary>CI_PIPELINE_SOURCE: push, web, schedule, merge_request_event.</summary>
    public required string Source { get; init; }

    /// <summary>CI_COMMIT_BRANCH; GitLab leaves it unset in merge request pipelines.</summary>
    public string? Branch { get; init; }

    public string DefaultBranch { get; init; } = "main";

    /// <summary>Whether the branch has an open merge request (CI_OPEN_MERGE_REQUESTS is set).</summary>
    public bool OpenMergeRequest { get; init; }

    /// <summary>
    /// The files a plain <c>changes:</c> compares: the push's (or the merge request's) changes; null when
    /// there is nothing to compare with (a new branch, a schedule, a pipeline run by hand), which GitLab
    /// counts as every file changed.
    /// </summary>
    public IReadOnlySet<string>? Changed { get; init; }

    /// <summary>The files that differ from the default branch, what <c>compare_to: refs/heads/&lt;default&gt;</c> sees.</summary>
    public IReadOnlySet<string> DifferFromDefaultBranch { get; init; } = new HashSet<string>();

    public IReadOnlyDictionary<string, string> Variables
    {
        get
        {
            var variables = new Dictionary<string, string>
            {
                ["CI_PIPELINE_SOURCE"] = Source,
                ["CI_DEFAULT_BRANCH"] = DefaultBranch,
            };
            if (Branch is not null) variables["CI_COMMIT_BRANCH"] = Branch;
            if (OpenMergeRequest) variables["CI_OPEN_MERGE_REQUESTS"] = "team/blog!1";
            if (Source == "merge_request_event") variables["CI_MERGE_REQUEST_TARGET_BRANCH_NAME"] = DefaultBranch;
            return variables;
        }
    }
}

/// <summary>
/// GitLab's rule evaluation for the parts this project uses: the first rule whose <c>if</c> holds and whose
/// <c>changes</c> match decides <c>when</c>; none matching means the job is not in the pipeline. <c>if</c>
/// expressions: variables, quoted strings, <c>null</c>, <c>==</c>, <c>!=</c>, <c>&amp;&amp;</c>, <c>||</c>, parentheses.
/// </summary>
public static partial class CiRules
{
    public const string Never = "never";

    /// <summary>The job's <c>when</c> in this pipeline, or <see cref="Never"/>; a job without rules runs on_success.</summary>
    public static string Evaluate(IReadOnlyList<CiRule>? rules, PipelineTrigger trigger)
    {
        if (rules is null) return "on_success";
        var variables = trigger.Variables;
        foreach (var rule in rules)
        {
            if (rule.If is { } condition && !Holds(condition, variables)) continue;
            if (rule.Changes is { } patterns && !ChangesMatch(patterns, rule.CompareTo, trigger, variables)) continue;
            return rule.When;
        }
        return Never;
    }

    private static bool ChangesMatch(IReadOnlyList<string> patterns, string? compareTo, PipelineTrigger trigger, IReadOnlyDictionary<string, string> variables)
    {
        IReadOnlySet<string>? changed;
        if (compareTo is null)
        {
            changed = trigger.Changed;
        }
        else
        {
            var reference = LocalPipeline.Expand(compareTo, variables);
            if (reference != $"refs/heads/{trigger.DefaultBranch}" && reference != trigger.DefaultBranch)
                throw new NotSupportedException($"compare_to {compareTo} (= {reference}): only the default branch is modelled here");
            changed = trigger.DifferFromDefaultBranch;
        }
        if (changed is null) return true;
        var globs = patterns.Select(p => new Regex("^" + Regex.Escape(p).Replace(@"\*\*/", "(.*/)?").Replace(@"\*\*", ".*").Replace(@"\*", "[^/]*") + "$")).ToList();
        return changed.Any(file => globs.Any(g => g.IsMatch(file)));
    }

    public static bool Holds(string expression, IReadOnlyDictionary<string, string> variables)
    {
        if (Token().Replace(expression, "").Trim().Length > 0)
            throw new NotSupportedException($"{expression}: only ==, !=, &&, ||, parentheses, variables, strings and null are modelled here");
        var tokens = Token().Matches(expression).Select(m => m.Value).ToList();
        var position = 0;
        var value = Or();
        if (position != tokens.Count) throw new FormatException($"unexpected '{tokens[position]}' in {expression}");
        return Truthy(value);

        object? Or()
        {
            var left = And();
            while (Next("||")) left = Truthy(left) | Truthy(And());
            return left;
        }

        object? And()
        {
            var left = Comparison();
            while (Next("&&")) left = Truthy(left) & Truthy(Comparison());
            return left;
        }

        object? Comparison()
        {
            var left = Primary();
            if (Next("==")) return Equals(left, Primary());
            if (Next("!=")) return !Equals(left, Primary());
            return left;
        }

        object? Primary()
        {
            if (position >= tokens.Count) throw new FormatException($"{expression} ends too early");
            var token = tokens[position++];
            if (token == "(")
            {
                var inner = Or();
                if (!Next(")")) throw new FormatException($"missing ) in {expression}");
                return inner;
            }
            if (token == "null") return null;
            if (token[0] is '"' or '\'') return token[1..^1];
            if (token[0] == '$') return variables.GetValueOrDefault(token.TrimStart('$').Trim('{', '}'));
            throw new FormatException($"unexpected '{token}' in {expression}");
        }

        bool Next(string token)
        {
            if (position < tokens.Count && tokens[position] == token)
            {
                position++;
                return true;
            }
            return false;
        }
    }

    private static bool Truthy(object? value) => value switch
    {
        bool b => b,
        string s => s.Length > 0,
        _ => false,
    };

    [GeneratedRegex("""\|\||&&|==|!=|\(|\)|"[^"]*"|'[^']*'|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|null""")]
    private static partial Regex Token();
}
