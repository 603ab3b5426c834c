using Build.Settings;
using Build.Tests.Support;
using Build.Tailnet.Policy;

namespace Build.Tests.Tailnet.Policy;

/// <summary>The offline checks on the repository's policy and broad mutations of it.</summary>
public sealed class PolicyEvaluatorTests
{
    private static readonly DeployNeeds Needs = new(["tag:ci"], ["tag:server1", "tag:server2"], 22, Strict: false);
    private static readonly DeployNeeds StrictNeeds = Needs with { Strict = true };

    private const string Owners = """
        "tagOwners": {"tag:ci": ["autogroup:admin"], "tag:server1": ["autogroup:admin"], "tag:server2": ["autogroup:admin"]},
        """;

    private const string GoodTests = """
        "tests": [{"src": "tag:ci", "accept": ["tag:server1:22", "tag:server2:22"], "deny": ["tag:server1:80", "tag:server2:443"]}],
        """;

    private static PolicyDocument Doc(string body) => PolicyDocument.Parse("{\n" + body + "\n}", "test.hujson");

    private static IReadOnlyList<Finding> Check(string body, DeployNeeds? needs = null) => PolicyCheck.Run(Doc(body), needs ?? Needs);

    private static string[] Errors(IReadOnlyList<Finding> findings) => findings.Where(f => f.Severity == Severity.Error).Select(f => f.Message).ToArray();
    private static string[] Warnings(IReadOnlyList<Finding> findings) => findings.Where(f => f.Severity == Severity.Warning).Select(f => f.Message).ToArray();

    [Fact]
    public void TheRepositoryPolicyPassesWithoutWarnings()
    {
        var policy = PolicyDocument.Read(Repo.File("tailnet", "policy.hujson"));
        var findings = PolicyCheck.Run(policy, StrictNeeds);
        Assert.DoesNotContain(findings, f => f.Severity != Severity.Note);
        Assert.Empty(PolicyCheck.UnownedNeededTags(policy, Needs));
    }

    [Fact]
    public void CommentsAndTrailingCommasAreHuJson()
    {
        var doc = PolicyDocument.Parse("// top\n{ /* block */ \"acls\": [ {\"action\": \"accept\", \"src\": [\"*\"], \"dst\": [\"*:*\",],}, ], }", "x");
        Assert.Single(doc.Rules);
    }

    [Theory]
    [InlineData("{\n  \"acls\": [\n    {\"action\": \"accept\" \"src\": []},\n  ]\n}", 3, 25)]
    [InlineData("{\n\t\"a\": 1,\n\t\"b\": ,\n}", 3, 7)]
    [InlineData("{\n  \"x\": [1, 2\n", 3, 1)]
    [InlineData("{ /* never closed\n}", 1, 3)]
    public void SyntaxErrorsNameLineAndColumn(string text, int line, int column)
    {
        var e = Assert.Throws<HuJsonException>(() => PolicyDocument.Parse(text, "p.hujson"));
        Assert.Equal(ExitCodes.BadSettings, e.ExitCode);
        Assert.Equal((line, column), (e.Line, e.Column));
        Assert.StartsWith($"p.hujson:{line}:{column}: ", e.Message);
    }

    [Fact]
    public void MissingFileIsBadInput()
    {
        var e = Assert.Throws<SettingsException>(() => PolicyDocument.Read("/nonexistent/policy.hujson"));
        Assert.Contains("--policy-file", e.Message);
    }

    [Fact]
    public void RemovingTheAclBreaksReachability()
    {
        var errors = Errors(Check(Owners + GoodTests));
        Assert.Contains(errors, e => e.Contains("no acls or grants rule lets tag:ci reach tag:server1:22"));
        Assert.Contains(errors, e => e.Contains("no acls or grants rule lets tag:ci reach tag:server2:22"));
        // The policy's own test fails too, named.
        Assert.Contains(errors, e => e.StartsWith("tests[0]: tag:ci should reach tag:server1:22", StringComparison.Ordinal));
    }

    [Fact]
    public void RemovingTheTestsBreaksCoverage()
    {
        var errors = Errors(Check(Owners + """ "acls": [{"action": "accept", "src": ["tag:ci"], "dst": ["tag:server1:22", "tag:server2:22"]}], """));
        Assert.Equal(2, errors.Length);
        Assert.All(errors, e => Assert.StartsWith("no test covers tag:ci", e));
    }

    [Fact]
    public void RemovingATagOwnerIsNamed()
    {
        var body = """
            "tagOwners": {"tag:ci": ["autogroup:admin"], "tag:server1": ["autogroup:admin"]},
            "acls": [{"action": "accept", "src": ["tag:ci"], "dst": ["tag:server1:22", "tag:server2:22"]}],
            """ + GoodTests;
        var doc = Doc(body);
        Assert.Equal(["tag:server2"], PolicyCheck.UnownedNeededTags(doc, Needs));
        var error = Assert.Single(PolicyCheck.TagOwners(doc));
        Assert.Contains("acls[0].dst[1] uses tag:server2", error.Message);
    }

    [Fact]
    public void ATagUsedOnlyInATestNeedsAnOwnerToo()
    {
        var body = Owners + """ "acls": [{"action": "accept", "src": ["tag:ci"], "dst": ["tag:server1:22", "tag:server2:22"]}], """ +
            """ "tests": [{"src": "tag:ci", "accept": ["tag:server1:22", "tag:server2:22"], "deny": ["tag:web:80"]}], """;
        Assert.Contains(Errors(Check(body)), e => e.Contains("tests[0].deny[0] uses tag:web"));
    }

    [Theory]
    [InlineData("tag:server1:2222", "tag:server2:22")]
    [InlineData("tag:server1:80", "tag:server2:22")]
    public void MovingThePortBreaksReachabilityAndTheTest(string first, string second)
    {
        var errors = Errors(Check(Owners + GoodTests + $$""" "acls": [{"action": "accept", "src": ["tag:ci"], "dst": ["{{first}}", "{{second}}"]}], """));
        Assert.Contains(errors, e => e.Contains("reach tag:server1:22"));
        Assert.DoesNotContain(errors, e => e.Contains("reach tag:server2:22"));
    }

    [Fact]
    public void PortListsAndRangesReachButAreMoreThanNeeded()
    {
        var body = Owners + GoodTests + """ "acls": [{"action": "accept", "src": ["tag:ci"], "dst": ["tag:server1:22,80", "tag:server2:1-1000"]}], """;
        var findings = Check(body);
        var errors = Errors(findings);
        // Reachable, but the test's deny of port 80 and 443 now fails, and the breach is a warning.
        Assert.DoesNotContain(errors, e => e.StartsWith("no acls", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("should not reach tag:server1:80") && e.Contains("acls[0]"));
        Assert.Contains(errors, e => e.Contains("should not reach tag:server2:443"));
        Assert.Contains(Warnings(findings), w => w.StartsWith("acls[0] lets tag:ci reach tag:server1:22,80", StringComparison.Ordinal));
        Assert.Contains(Warnings(findings), w => w.StartsWith("acls[0] lets tag:ci reach tag:server2:1-1000", StringComparison.Ordinal));
    }

    [Fact]
    public void RangesExcludingTheSshPortDoNotReach()
    {
        var errors = Errors(Check(Owners + """ "acls": [{"action": "accept", "src": ["tag:ci"], "dst": ["tag:server1:23-1000", "tag:server2:1-21"]}], """));
        Assert.Contains(errors, e => e.Contains("no acls or grants rule lets tag:ci reach tag:server1:22"));
        Assert.Contains(errors, e => e.Contains("no acls or grants rule lets tag:ci reach tag:server2:22"));
    }

    [Fact]
    public void BreachesAreErrorsWhenStrict()
    {
        var body = Owners + GoodTests + """ "acls": [{"action": "accept", "src": ["tag:ci"], "dst": ["tag:server1:22", "tag:server2:22"]}, {"action": "accept", "src": ["*"], "dst": ["*:443"]}], """;
        Assert.Contains(Warnings(Check(body)), w => w.StartsWith("acls[1] lets tag:ci reach *:443", StringComparison.Ordinal));
        Assert.Contains(Errors(Check(body, StrictNeeds)), e => e.StartsWith("acls[1] lets tag:ci reach *:443", StringComparison.Ordinal));
        // The wildcard also reaches the servers' port 443, which the test denies.
        Assert.Contains(Errors(Check(body)), e => e.Contains("should not reach tag:server2:443") && e.Contains("acls[1]"));
    }

    [Fact]
    public void GrantsInsteadOfAcls()
    {
        var body = Owners + GoodTests + """ "grants": [{"src": ["tag:ci"], "dst": ["tag:server1", "tag:server2"], "ip": ["tcp:22"]}], """;
        Assert.Empty(Errors(Check(body, StrictNeeds)));
        Assert.Empty(Warnings(Check(body, StrictNeeds)));
    }

    [Theory]
    [InlineData("\"udp:22\"", false)]
    [InlineData("\"22\"", true)]
    [InlineData("\"*\"", true)]
    [InlineData("\"tcp:*\"", true)]
    [InlineData("\"tcp:20-30\"", true)]
    [InlineData("\"tcp:443\"", false)]
    public void GrantIpForms(string ip, bool reaches)
    {
        var doc = Doc(Owners + $$""" "grants": [{"src": ["tag:ci"], "dst": ["tag:server1"], "ip": [{{ip}}]}], """);
        var verdict = new PolicyEvaluator(doc).Allows(Principal.Tagged(["tag:ci"]), Target.Tagged("tag:server1"), 22);
        Assert.Equal(reaches ? Match.Yes : Match.No, verdict.Match);
    }

    [Fact]
    public void AGrantWithoutIpGivesNoNetworkAccess()
    {
        var doc = Doc(Owners + """ "grants": [{"src": ["tag:ci"], "dst": ["tag:server1"], "app": {"example.com/cap": [{}]}}], """);
        Assert.Equal(Match.No, new PolicyEvaluator(doc).Allows(Principal.Tagged(["tag:ci"]), Target.Tagged("tag:server1"), 22).Match);
    }

    [Theory]
    [InlineData("\"*\"", "\"*:*\"", Match.Yes)]
    [InlineData("\"tag:ci\"", "\"*:22\"", Match.Yes)]
    [InlineData("\"autogroup:tagged\"", "\"tag:server1:22\"", Match.Yes)]
    [InlineData("\"autogroup:member\"", "\"tag:server1:22\"", Match.No)]
    [InlineData("\"group:ops\"", "\"tag:server1:22\"", Match.No)]
    [InlineData("\"alice@example.com\"", "\"tag:server1:22\"", Match.No)]
    [InlineData("\"tag:ci\"", "\"autogroup:tagged:22\"", Match.Yes)]
    [InlineData("\"tag:ci\"", "\"autogroup:internet:*\"", Match.No)]
    [InlineData("\"tag:ci\"", "\"group:ops:22\"", Match.No)]
    [InlineData("\"100.64.0.5\"", "\"tag:server1:22\"", Match.Unknown)]
    [InlineData("\"tag:ci\"", "\"server1-alias:22\"", Match.Unknown)]
    public void SelectorsForTheCiNode(string src, string dst, Match expected)
    {
        var doc = Doc(Owners + """ "hosts": {"server1-alias": "100.64.0.10"}, """ + $$""" "acls": [{"action": "accept", "src": [{{src}}], "dst": [{{dst}}]}], """);
        Assert.Equal(expected, new PolicyEvaluator(doc).Allows(Principal.Tagged(["tag:ci"]), Target.Tagged("tag:server1"), 22).Match);
    }

    [Fact]
    public void GroupsAndAutogroupsInTests()
    {
        var body = Owners + GoodTests.Replace("\"tests\": [", """
            "tests": [
              {"src": "group:ops", "accept": ["tag:server1:22", "web:443"], "deny": ["tag:server2:22"]},
              {"src": "alice@example.com", "accept": ["tag:server1:22"]},
              {"src": "bob@example.com", "deny": ["tag:server1:22"]},
              {"src": "autogroup:member", "accept": ["100.64.0.20:443"], "deny": ["web:22"]},
            """) + """
            "groups": {"group:ops": ["alice@example.com"]},
            "hosts": {"web": "100.64.0.20"},
            "acls": [
              {"action": "accept", "src": ["tag:ci"], "dst": ["tag:server1:22", "tag:server2:22"]},
              {"action": "accept", "src": ["group:ops"], "dst": ["tag:server1:22"]},
              {"action": "accept", "src": ["autogroup:member"], "dst": ["web:443"]},
            ],
            """;
        Assert.Empty(Errors(Check(body)));

        // Break each: ops loses the server, members lose the web host.
        var broken = body.Replace("\"src\": [\"group:ops\"], \"dst\": [\"tag:server1:22\"]", "\"src\": [\"group:ops\"], \"dst\": [\"tag:server2:22\"]")
            .Replace("\"dst\": [\"web:443\"]", "\"dst\": [\"web:80\"]");
        var errors = Errors(Check(broken));
        Assert.Contains(errors, e => e.StartsWith("tests[0]: group:ops should reach tag:server1:22", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("tests[0]: group:ops should not reach tag:server2:22", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("tests[1]: alice@example.com should reach tag:server1:22", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("tests[3]: autogroup:member should reach 100.64.0.20:443", StringComparison.Ordinal));
    }

    [Fact]
    public void WhatCannotBeKnownOfflineIsSaidNeverPassed()
    {
        var body = Owners + GoodTests.Replace("\"tests\": [", """
            "tests": [
              {"src": "100.64.0.7", "accept": ["tag:server1:22"]},
              {"src": "tag:ci", "accept": ["alice@example.com:22"]},
              {"src": "autogroup:admin", "accept": ["tag:server1:22"]},
            """) + """ "acls": [{"action": "accept", "src": ["tag:ci"], "dst": ["tag:server1:22", "tag:server2:22"]}, {"action": "accept", "src": ["autogroup:owner"], "dst": ["tag:server1:22"]}], """;
        var warnings = Warnings(Check(body));
        Assert.Contains(warnings, w => w.StartsWith("tests[0]: src \"100.64.0.7\" is not checked locally", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.StartsWith("tests[1]: tag:ci → alice@example.com:22 is not checked locally", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.StartsWith("tests[2]: autogroup:admin → tag:server1:22 is not checked locally", StringComparison.Ordinal));
    }

    [Fact]
    public void LegacyUsersAndPortsAreRead()
    {
        var doc = Doc(Owners + """ "acls": [{"action": "accept", "users": ["tag:ci"], "ports": ["tag:server1:22"]}], """);
        Assert.Equal(Match.Yes, new PolicyEvaluator(doc).Allows(Principal.Tagged(["tag:ci"]), Target.Tagged("tag:server1"), 22).Match);
    }

    [Fact]
    public void StructuralProblemsAreErrors()
    {
        var errors = Errors(Check(Owners + GoodTests + """ "acls": [{"action": "deny", "src": ["tag:ci"], "dst": ["tag:server1:22"]}, {"action": "accept", "src": ["tag:ci"], "dst": ["tag:server1"]}], """));
        Assert.Contains(errors, e => e.StartsWith("acls[0]: action is \"deny\"", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("acls[1]: destination \"tag:server1\" is not target:ports", StringComparison.Ordinal));
    }

    [Fact]
    public void EqualAfterParsingIgnoresCommentsLayoutAndKeyOrder()
    {
        var a = PolicyDocument.Parse("{\"b\": [1, 2], \"a\": {\"y\": 1, \"x\": \"s\"}}", "a");
        var b = PolicyDocument.Parse("// c\n{\n  \"a\": {\"x\": \"s\", \"y\": 1,}, // d\n  \"b\": [1,\n 2],\n}", "b");
        var c = PolicyDocument.Parse("{\"b\": [2, 1], \"a\": {\"y\": 1, \"x\": \"s\"}}", "c");
        Assert.Equal(a.Canonical, b.Canonical);
        Assert.NotEqual(a.Canonical, c.Canonical);
    }

    [Fact]
    public void DiffShowsChangedLines()
    {
        var lines = TextDiff.Lines("a\nb\nc\nd", "a\nb\nX\nd");
        Assert.Contains("- c", lines);
        Assert.Contains("+ X", lines);
        Assert.Contains("  b", lines);
    }
}
