using Build.Settings;

namespace Build.Tailnet.Policy;

/// <summary>What the CheckPolicy, TestPolicy, ApplyPolicy and FindServers tasks do with the policy, kept out of the thin tasks.</summary>
public static class PolicyTargets
{
    /// <summary>
    /// CheckPolicy: reads and checks the file offline. Bad input (no file, bad HuJSON, a deploy or CI tag
    /// without owners) throws <see cref="SettingsException"/> (exit 2); a failed check, <see cref="PipelineException"/> (exit 1).
    /// </summary>
    public static PolicyDocument Check(PolicySettings policy, IReadOnlyList<string> ciTags, IReadOnlyList<string> deployTags, int sshPort, Action<string> info, Action<string> warn)
    {
        var document = PolicyDocument.Read(policy.File);
        var needs = new DeployNeeds(ciTags, deployTags, sshPort, policy.Strict);
        if (PolicyCheck.UnownedNeededTags(document, needs) is { Count: > 0 } unowned)
            throw new SettingsException($"{policy.File}: no tagOwners entry for {string.Join(", ", unowned)} (the CI tags --ts-tags and the deploy tags --tags): no node can carry them. Add them to tagOwners.");
        var findings = PolicyCheck.Run(document, needs);
        foreach (var finding in findings)
        {
            if (finding.Severity == Severity.Note) info($"CheckPolicy: {finding.Message}");
            else warn($"CheckPolicy: {finding}");
        }
        var errors = findings.Count(f => f.Severity == Severity.Error);
        if (errors > 0)
            throw new PipelineException($"CheckPolicy: {policy.File} fails {errors} check(s) (the errors above).");
        info($"CheckPolicy: {policy.File} passes: {string.Join(",", needs.CiTags)} reach {string.Join(", ", needs.DeployTags.Select(t => $"{t}:{needs.SshPort}"))}; {document.Tests.Count} test(s) checked locally.");
        return document;
    }

    /// <summary>
    /// FindServers' cross-check: when the repository has a policy, every server found should be reachable
    /// by the CI tags on the SSH port; if not, the repository's policy and the deploy disagree (a warning).
    /// </summary>
    public static IEnumerable<string> Disagreements(string policyFile, IReadOnlyList<string> ciTags, int sshPort, IEnumerable<Deployment.DeployTarget> servers)
    {
        if (!File.Exists(policyFile)) yield break;
        PolicyDocument document;
        string? unreadable = null;
        try
        {
            document = PolicyDocument.Read(policyFile);
        }
        catch (SettingsException e)
        {
            document = null!;
            unreadable = e.Message;
        }
        if (unreadable is not null)
        {
            yield return $"the policy file cannot be read ({unreadable}): the deploy's reach is not checked against it.";
            yield break;
        }
        var evaluator = new PolicyEvaluator(document);
        var ci = Principal.Tagged(ciTags);
        foreach (var server in servers.Where(s => s.Tags.Count > 0))
        {
            var verdict = evaluator.Allows(ci, Target.Tagged([.. server.Tags]), server.Port ?? sshPort);
            if (verdict.Match != Match.Yes)
                yield return $"{Path.GetFileName(policyFile)} does not let {string.Join(",", ciTags)} reach {server.Name} ({string.Join(",", server.Tags)}) on port {server.Port ?? sshPort}: the repository's policy and the deploy disagree (ApplyPolicy has not run, or the policy misses the server's tag).";
        }
    }
}
