using System.Text.Json.Nodes;
using Build.Deployment.Progress;
using Build.Deployment.Reports;
using Build.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests.Deployment.Reports;

public sealed class DeployReportTests
{
    private static DeployReport Sample() => new()
    {
        Operation = "deploy",
        ReleaseId = "20261125T120000Z-0123abcd",
        Commit = "abc123",
        StartedAt = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero),
        Servers =
        [
            new ServerReport { Server = "server1", Address = "100.64.0.1", Outcome = Outcome.Deployed, ReleaseId = "20261125T120000Z-0123abcd", FilesSent = 3, FilesLinked = 1800, FilesRemoved = 1, BytesSent = 40960, Seconds = 1.25 },
            new ServerReport { Server = "server2", Address = "100.64.0.2", Outcome = Outcome.Failed, Error = "connection refused\nat step connect" },
            new ServerReport { Server = "server3", Address = "100.64.0.3", Outcome = Outcome.HeldBack, Error = "not switched: server2 failed" },
        ],
    };

    [Fact]
    public async Task Json_has_exactly_the_documented_fields()
    {
        using var dir = new TempDir();
        await Sample().WriteAsync(dir.Path);
        var json = JsonNode.Parse(File.ReadAllText(Path.Join(dir.Path, "deploy-report.json")))!.AsObject();

        Assert.Equal(["operation", "release_id", "commit", "started_at", "servers"], json.Select(p => p.Key));
        var server = json["servers"]![0]!.AsObject();
        Assert.Equal(
            ["server", "address", "outcome", "release_id", "previous_release_id", "files_sent", "files_linked", "files_removed", "bytes_sent", "seconds", "error"],
            server.Select(p => p.Key));
        Assert.Equal("deployed", (string?)server["outcome"]);
        Assert.Equal(1800, (int)server["files_linked"]!);
        Assert.Equal("failed", (string?)json["servers"]![1]!["outcome"]);
        Assert.Equal("held-back", (string?)json["servers"]![2]!["outcome"]);
    }

    [Fact]
    public void JUnit_has_a_case_per_server_with_failure_and_skipped()
    {
        var doc = Sample().ToJUnit();
        var suite = Assert.Single(doc.Root!.Elements("testsuite"));
        Assert.Equal("deploy", suite.Attribute("name")!.Value);
        Assert.Equal("1", suite.Attribute("failures")!.Value);
        var cases = suite.Elements("testcase").ToList();
        Assert.Equal(["server1", "server2", "server3"], cases.Select(c => c.Attribute("name")!.Value));
        Assert.All(cases, c => Assert.Equal("deploy", c.Attribute("classname")!.Value));
        Assert.Null(cases[0].Element("failure"));
        Assert.Contains("connection refused", cases[1].Element("failure")!.Value);
        Assert.NotNull(cases[2].Element("skipped"));
    }

    [Fact]
    public void Summary_lists_every_server_and_the_retry_command_names_every_server_not_serving_the_release()
    {
        var report = Sample();
        var table = DeploySummary.Table(report);
        Assert.Contains("server1", table);
        Assert.Contains("1800", table);
        Assert.Contains("server2: connection refused", table);
        Assert.Contains("held-back", table);
        // server3 was held back because server2 failed: retrying server2 alone would leave a mixed fleet.
        Assert.Equal("./build.sh --target=Deploy --server=server2,server3", DeploySummary.RetryCommand(report, "Deploy", []));
        report.Servers[1].Outcome = Outcome.Deployed;
        report.Servers[2].Outcome = Outcome.SwitchedBack;
        Assert.Equal("./build.sh --target=Deploy --server=server3", DeploySummary.RetryCommand(report, "Deploy", []));
        report.Servers[2].Outcome = Outcome.Unchanged;
        Assert.Null(DeploySummary.RetryCommand(report, "Deploy", []));
    }

    [Fact]
    public void The_retry_command_repeats_every_option_given_except_the_target_and_the_server_selection()
    {
        KeyValuePair<string, string>[] given =
        [
            new("target", "Deploy"), new("tailnet", "off"), new("hosts", "web=192.0.2.10:2222,db=192.0.2.11"),
            new("server", "web"), new("ssh-key", "/keys/id ed25519"), new("known-hosts", "/k/known_hosts"),
            new("remote-root", "/srv/{server}"), new("verbosity", "verbose"), new("server", "db"),
        ];
        Assert.Equal(
            "./build.sh --target=Deploy --tailnet=off --hosts=web=192.0.2.10:2222,db=192.0.2.11 '--ssh-key=/keys/id ed25519' " +
            "--known-hosts=/k/known_hosts '--remote-root=/srv/{server}' --verbosity=verbose --server=server2,server3",
            DeploySummary.RetryCommand(Sample(), "Deploy", given));
        Assert.Equal("'it'\\''s'", DeploySummary.Shell("it's"));
    }

    [Fact]
    public void A_rollback_to_a_release_a_server_lacks_is_not_suggested_again()
    {
        var report = new DeployReport
        {
            Operation = "rollback", StartedAt = DateTimeOffset.UnixEpoch,
            Servers =
            [
                new ServerReport { Server = "server1", Address = "a", Outcome = Outcome.Failed, FailureKind = Build.Deployment.Release.ReleaseFailure.MissingRelease, Error = "no release" },
                new ServerReport { Server = "server2", Address = "b", Outcome = Outcome.Failed, Error = "connection reset" },
            ],
        };
        var message = DeploySummary.FailureMessage(report, "Rollback", [new("release", "20261125T120000Z-0123abcd")]);
        Assert.Contains("--target=Releases --server=server1", message);
        Assert.EndsWith("./build.sh --target=Rollback --release=20261125T120000Z-0123abcd --server=server2", message);
        report.Servers.RemoveAt(1);
        Assert.DoesNotContain("--target=Rollback", DeploySummary.FailureMessage(report, "Rollback", [new("release", "20261125T120000Z-0123abcd")]));
    }

    [Fact]
    public void The_headline_claims_a_deploy_only_when_every_server_serves_the_release_and_counts_right()
    {
        var report = Sample();
        report.Servers.RemoveRange(1, 2);
        Assert.StartsWith("Deployed release 20261125T120000Z-0123abcd to 1 server in 1.500 s", DeploySummary.Headline(report, TimeSpan.FromSeconds(1.5)));
        report.Servers.Add(new ServerReport { Server = "server2", Address = "b", Outcome = Outcome.Unchanged, ReleaseId = "20261125T110000Z-0123abcd" });
        Assert.StartsWith("Deployed release 20261125T120000Z-0123abcd to 2 servers in", DeploySummary.Headline(report, TimeSpan.FromSeconds(1.5)));
        report.Servers.Add(new ServerReport { Server = "server3", Address = "c", Outcome = Outcome.SwitchedBack, ReleaseId = "20261120T110000Z-00000000" });
        var mixed = DeploySummary.Headline(report, TimeSpan.FromSeconds(1.5));
        Assert.DoesNotContain("Deployed release", mixed);
        Assert.Contains("served by 2 of 3 servers", mixed);
        Assert.Contains("server3 serves 20261120T110000Z-00000000 (switched-back)", mixed);
        Assert.Equal("Nothing to deploy: 1 server already serves this content (x); checked in 0.000 s",
            DeploySummary.Headline(new DeployReport { Operation = "deploy", StartedAt = DateTimeOffset.UnixEpoch, Servers = [new ServerReport { Server = "s", Address = "a", Outcome = Outcome.Unchanged, ReleaseId = "x" }] }, TimeSpan.Zero));
    }

    [Fact]
    public void Plain_progress_prints_phases_and_throttles_upload_lines()
    {
        var lines = new List<string>();
        var time = new FakeTimeProvider();
        var progress = new PlainProgress(lines.Add, time);

        progress.Phase("server1", DeployPhase.Connect);
        progress.Upload("server1", 100, 1000);
        progress.Upload("server1", 200, 1000);
        time.Advance(TimeSpan.FromSeconds(4));
        progress.Upload("server1", 500, 1000);
        progress.Upload("server1", 1000, 1000);

        progress.Phase("server1", DeployPhase.Switch, "current -> x");
        Assert.Equal(
            ["server1: connect (+0.00s)", "server1: upload 100 B of 1000 B", "server1: upload 500 B of 1000 B", "server1: upload 1000 B of 1000 B", "server1: switch current -> x (+4.00s)"],
            lines);
    }
}
