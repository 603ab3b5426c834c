using System.Text.Json;
using System.Text.RegularExpressions;

namespace Build.Tailnet.Policy;

public enum Severity { Note, Warning, Error }

public sealed record Finding(Severity Severity, string Message)
{
    public override string ToString() => $"{Severity.ToString().ToLowerInvariant()}: {Message}";
}

/// <summary>What the deploy needs from the policy: the CI node's tags reach the deploy tags' SSH port.</summary>
public sealed record DeployNeeds(IReadOnlyList<string> CiTags, IReadOnlyList<string> DeployTags, int SshPort, bool Strict);

/// <summary>
/// The offline checks of <c>CheckPolicy</c>: tag owners, the deploy's reachability, nothing more,
/// the tests' coverage, and the policy's own tests. A missing <c>tagOwners</c> entry for a deploy or
/// CI tag is bad input (exit 2); every other failure is an error (exit 1) naming the rule or test and the tag.
/// </summary>
public static partial class PolicyCheck
{
    public static IReadOnlyList<Finding> Run(PolicyDocument policy, DeployNeeds needs)
    {
        var findings = new List<Finding>();
        findings.AddRange(policy.Problems.Select(p => new Finding(Severity.Error, p)));
        findings.AddRange(TagOwners(policy));
        var evaluator = new PolicyEvaluator(policy);
        findings.AddRange(Reachability(evaluator, needs));
        findings.AddRange(NothingMore(evaluator, needs));
        findings.AddRange(Coverage(policy, needs));
        findings.AddRange(OwnTests(evaluator));
        return findings;
    }

    /// <summary>The deploy and CI tags without a <c>tagOwners</c> entry: nobody can own them, so no node carries them.</summary>
    public static IReadOnlyList<string> UnownedNeededTags(PolicyDocument policy, DeployNeeds needs) =>
        needs.CiTags.Concat(needs.DeployTags).Distinct(StringComparer.Ordinal).Where(t => !policy.TagOwners.ContainsKey(t)).ToArray();

    /// <summary>Every tag used anywhere (in any section, in owners too) must have a <c>tagOwners</c> entry.</summary>
    public static IEnumerable<Finding> TagOwners(PolicyDocument policy)
    {
        var reported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, text) in Strings(policy.Root, ""))
        {
            foreach (System.Text.RegularExpressions.Match m in TagPattern().Matches(text))
            {
                var tag = m.Value;
                if (policy.TagOwners.ContainsKey(tag) || !reported.Add(tag)) continue;
                yield return new Finding(Severity.Error, $"{path} uses {tag}, which has no tagOwners entry: no node can carry it. Add \"{tag}\": [\"autogroup:admin\"] (or its owners) to tagOwners.");
            }
        }
    }

    private static IEnumerable<Finding> Reachability(PolicyEvaluator evaluator, DeployNeeds needs)
    {
        var ci = Principal.Tagged(needs.CiTags);
        foreach (var tag in needs.DeployTags)
        {
            var verdict = evaluator.Allows(ci, Target.Tagged(tag), needs.SshPort);
            var who = string.Join(",", needs.CiTags);
            if (verdict.Match == Match.Yes) yield return new Finding(Severity.Note, $"{who} reaches {tag}:{needs.SshPort} through {string.Join(", ", verdict.Rules)}.");
            else if (verdict.Match == Match.Unknown)
                yield return new Finding(Severity.Error, $"{who} → {tag}:{needs.SshPort}: only {string.Join(", ", verdict.Rules)} might allow it, through names not checked locally (addresses, hosts); name the tags in acls or grants.");
            else
                yield return new Finding(Severity.Error, $"no acls or grants rule lets {who} reach {tag}:{needs.SshPort} (the deploy's SSH port): add {{\"action\": \"accept\", \"src\": [\"{needs.CiTags[0]}\"], \"dst\": [\"{tag}:{needs.SshPort}\"]}} to acls.");
        }
    }

    private static IEnumerable<Finding> NothingMore(PolicyEvaluator evaluator, DeployNeeds needs)
    {
        var ci = Principal.Tagged(needs.CiTags);
        var who = string.Join(",", needs.CiTags);
        foreach (var (rule, destination, match) in evaluator.Beyond(ci, needs.DeployTags, needs.SshPort))
        {
            var severity = needs.Strict ? Severity.Error : Severity.Warning;
            var maybe = match == Match.Unknown ? " may (its source is not checked locally)" : "";
            yield return new Finding(severity, $"{rule}{maybe} lets {who} reach {destination}, beyond the deploy tags' SSH port ({string.Join(", ", needs.DeployTags.Select(t => $"{t}:{needs.SshPort}"))}){(needs.Strict ? "" : "; --policy-strict makes this an error")}.");
        }
    }

    private static IEnumerable<Finding> Coverage(PolicyDocument policy, DeployNeeds needs)
    {
        foreach (var tag in needs.DeployTags)
        {
            var covered = policy.Tests.Any(test =>
                needs.CiTags.Contains(test.Source, StringComparer.Ordinal) &&
                test.Accept.Any(a => PolicyNames.SplitTargetPorts(a) is var (selector, ports) &&
                    selector == tag && PolicyNames.ParsePorts(ports) is { } ranges && ranges.Any(r => r.Contains(needs.SshPort))));
            if (!covered)
                yield return new Finding(Severity.Error, $"no test covers {needs.CiTags[0]} → {tag}:{needs.SshPort}: add {{\"src\": \"{needs.CiTags[0]}\", \"accept\": [\"{tag}:{needs.SshPort}\"]}} to tests, so that Tailscale refuses a policy that breaks the deploy.");
        }
    }

    /// <summary>The policy's own tests, as far as they can be evaluated offline.</summary>
    public static IEnumerable<Finding> OwnTests(PolicyEvaluator evaluator)
    {
        foreach (var test in evaluator.Policy.Tests)
        {
            if (evaluator.PrincipalOf(test.Source) is not { } principal)
            {
                yield return new Finding(Severity.Warning, $"{test.Name}: src \"{test.Source}\" is not checked locally (an address or host); TestPolicy runs it on Tailscale's side.");
                continue;
            }
            foreach (var (list, want) in new[] { (test.Accept, true), (test.Deny, false) })
            {
                foreach (var entry in list)
                {
                    if (PolicyNames.SplitTargetPorts(entry) is not var (selector, portText) || PolicyNames.ParsePorts(portText) is not { } ranges)
                    {
                        yield return new Finding(Severity.Error, $"{test.Name}: \"{entry}\" is not host:port.");
                        continue;
                    }
                    if (evaluator.TargetOf(selector) is not { } target)
                    {
                        yield return new Finding(Severity.Warning, $"{test.Name}: {test.Source} → {entry} is not checked locally (a user's devices or an unknown name); TestPolicy runs it on Tailscale's side.");
                        continue;
                    }
                    // A test names single ports; a range is checked at both ends.
                    var ports = ranges.SelectMany(r => r.Low == r.High ? [r.Low] : new[] { r.Low, r.High }).Distinct();
                    foreach (var port in ports)
                    {
                        var verdict = evaluator.Allows(principal, target, port, test.Protocol);
                        var shown = $"{selector}:{port}";
                        if (verdict.Match == Match.Unknown)
                            yield return new Finding(Severity.Warning, $"{test.Name}: {test.Source} → {shown} is not checked locally ({string.Join(", ", verdict.Rules)} name addresses or roles known only to Tailscale).");
                        else if ((verdict.Match == Match.Yes) != want)
                            yield return new Finding(Severity.Error, want
                                ? $"{test.Name}: {test.Source} should reach {shown} (accept), but no rule allows it."
                                : $"{test.Name}: {test.Source} should not reach {shown} (deny), but {string.Join(", ", verdict.Rules)} allow it.");
                    }
                }
            }
        }
    }

    private static IEnumerable<(string Path, string Text)> Strings(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                // Keys are names (tagOwners' keys define the tags); only values use tags.
                foreach (var property in element.EnumerateObject())
                    foreach (var item in Strings(property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}"))
                        yield return item;
                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                    foreach (var inner in Strings(item, $"{path}[{index++}]"))
                        yield return inner;
                break;
            case JsonValueKind.String:
                yield return (path, element.GetString()!);
                break;
        }
    }

    [GeneratedRegex(@"(?<![A-Za-z0-9-])tag:[A-Za-z][A-Za-z0-9-]*")]
    private static partial Regex TagPattern();
}
