using System.Text.Json;
using System.Text.Json.Serialization;
using System.Xml.Linq;
using Build.Output;

namespace Build.Deployment.Reports;

public static class Outcomes
{
    public const string Deployed = "deployed";
    public const string Unchanged = "unchanged";
    public const string RolledBack = "rolled-back";
    public const string Planned = "planned";
    public const string Failed = "failed";
    public const string Skipped = "skipped";
}

/// <summary>One server's line of the report.</summary>
public sealed record ServerReport
{
    [JsonPropertyName("server")] public required string Server { get; init; }
    [JsonPropertyName("address")] public required string Address { get; init; }
    [JsonPropertyName("outcome")] public string Outcome { get; set; } = Outcomes.Skipped;
    [JsonPropertyName("release_id")] public string? ReleaseId { get; set; }
    [JsonPropertyName("previous_release_id")] public string? PreviousReleaseId { get; set; }
    [JsonPropertyName("files_sent")] public int FilesSent { get; set; }
    [JsonPropertyName("files_linked")] public int FilesLinked { get; set; }
    [JsonPropertyName("files_removed")] public int FilesRemoved { get; set; }
    [JsonPropertyName("bytes_sent")] public long BytesSent { get; set; }
    [JsonPropertyName("seconds")] public double Seconds { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }

    [JsonIgnore] public bool IsFailure => Outcome == Outcomes.Failed;
}

/// <summary>
/// The run's report: <c>artifacts/deploy-report.json</c> and a JUnit file
/// (<c>artifacts/deploy-report.xml</c>) that GitLab shows per server.
/// </summary>
public sealed record DeployReport
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    [JsonPropertyName("operation")] public required string Operation { get; init; }
    [JsonPropertyName("release_id")] public string? ReleaseId { get; set; }
    [JsonPropertyName("commit")] public string? Commit { get; set; }
    [JsonPropertyName("started_at")] public required DateTimeOffset StartedAt { get; init; }
    [JsonPropertyName("servers")] public List<ServerReport> Servers { get; init; } = [];

    [JsonIgnore] public IEnumerable<ServerReport> Failed => Servers.Where(s => s.IsFailure);

    /// <summary>Writes both files; called from a finally (so without a token), so a failed or cancelled run still leaves them.</summary>
    public async Task WriteAsync(string artifacts)
    {
        await ArtifactFile.WriteAllTextAsync(Path.Join(artifacts, "deploy-report.json"), JsonSerializer.Serialize(this, Json));
        await ArtifactFile.WriteAllTextAsync(Path.Join(artifacts, "deploy-report.xml"), ToJUnit().ToString());
    }

    public XDocument ToJUnit()
    {
        var cases = Servers.Select(s =>
        {
            var testcase = new XElement("testcase",
                new XAttribute("name", s.Server),
                new XAttribute("classname", "deploy"),
                new XAttribute("time", s.Seconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)));
            if (s.IsFailure)
                testcase.Add(new XElement("failure", new XAttribute("message", FirstLine(s.Error ?? "failed")), s.Error ?? "failed"));
            else if (s.Outcome == Outcomes.Skipped)
                testcase.Add(new XElement("skipped", new XAttribute("message", s.Error ?? "skipped")));
            testcase.Add(new XElement("system-out", $"{s.Outcome} {s.ReleaseId} (from {s.PreviousReleaseId ?? "none"}): {s.FilesSent} sent, {s.FilesLinked} linked, {s.FilesRemoved} removed, {s.BytesSent} bytes"));
            return testcase;
        });
        var suite = new XElement("testsuite",
            new XAttribute("name", Operation),
            new XAttribute("tests", Servers.Count),
            new XAttribute("failures", Servers.Count(s => s.IsFailure)),
            new XAttribute("skipped", Servers.Count(s => s.Outcome == Outcomes.Skipped)),
            new XAttribute("timestamp", StartedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)),
            cases);
        return new XDocument(new XElement("testsuites", suite));
    }

    private static string FirstLine(string text) => text.Split('\n')[0];
}
