using System.Text.Json.Nodes;
using Build.Deployment.Progress;
using Build.Deployment.Reports;
using Build.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests.Reports;

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
            new ServerReport { Server = "server1", Address = "100.64.0.1", Outcome = Outcomes.Deployed, ReleaseId = "20261125T120000Z-0123abcd", FilesSent = 3, FilesLinked = 1800, FilesRemoved = 1, BytesSent = 40960, Seconds = 1.25 },
            new ServerReport { Server = "server2", Address = "100.64.0.2", Outcome = Outcomes.Failed, Error = "connection refused\nat step connect" },
            new ServerReport { Server = "server3", Address = "100.64.0.3", Outcome = Outcomes.Skipped, Error = "not switched: server2 failed" },
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
    public void Summary_lists_every_server_and_the_retry_command_names_only_failed_ones()
    {
        var report = Sample();
        var table = DeploySummary.Table(report);
        Assert.Contains("server1", table);
        Assert.Contains("1800", table);
        Assert.Contains("server2: connection refused", table);
        Assert.Equal("./build.sh --target=Deploy --server=server2", DeploySummary.RetryCommand(report, "Deploy", []));
        report.Servers[1].Outcome = Outcomes.Deployed;
        Assert.Null(DeploySummary.RetryCommand(report, "Deploy", []));
    }

    [Fact]
    public void Plain_progress_prints_phases_and_throttles_upload_lines()
    {
        var lines = new List<string>();
        var time = new FakeTimeProvider();
        var progress = new PlainProgress(lines.Add, time);

        progress.Phase("server1", "connect");
        progress.Upload("server1", 100, 1000);
        progress.Upload("server1", 200, 1000);
        time.Advance(TimeSpan.FromSeconds(4));
        progress.Upload("server1", 500, 1000);
        progress.Upload("server1", 1000, 1000);

        progress.Phase("server1", "switch", "current -> x");
        Assert.Equal(
            ["server1: connect (+0.00s)", "server1: upload 100 B of 1000 B", "server1: upload 500 B of 1000 B", "server1: upload 1000 B of 1000 B", "server1: switch current -> x (+4.00s)"],
            lines);
    }
}
