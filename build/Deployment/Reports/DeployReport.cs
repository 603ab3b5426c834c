using System.Text.Json;
using System.Text.Json.Serialization;
using System.Xml.Linq;
using Build.Output;
using Build.Deployment;

namespace Build.Deployment.Reports;

/// <summary>What became of one server; written in JSON as kebab-case (<c>held-back</c>). Defined once, for every operation.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<Outcome>))]
public enum Outcome
{
    [JsonStringEnumMemberName("deployed")] Deployed,
    [JsonStringEnumMemberName("unchanged")] Unchanged,
    /// <summary>Ready to switch, but not switched because another server failed (<c>--switch=together</c>).</summary>
    [JsonStringEnumMemberName("held-back")] HeldBack,
    [JsonStringEnumMemberName("failed")] Failed,
    /// <summary>Switched, then switched back to its previous release because another server's switch failed.</summary>
    [JsonStringEnumMemberName("switched-back")] SwitchedBack,
    [JsonStringEnumMemberName("planned")] Planned,
    [JsonStringEnumMemberName("rolled-back")] RolledBack,
}

/// <summary>One server's line of the report.</summary>
public sealed record ServerReport
{
    [JsonPropertyName("server")] public required string Server { get; init; }
    [JsonPropertyName("address")] public required string Address { get; init; }
    [JsonPropertyName("outcome")] public Outcome Outcome { get; set; } = Outcome.HeldBack;
    /// <summary>The release the server serves after the run, as far as the run knows (null: not read, or see <see cref="ServingUnknown"/>).</summary>
    [JsonPropertyName("release_id")] public string? ReleaseId { get; set; }

    /// <summary>A switch failed and the server could not be asked afterwards: it serves the previous or the new release.</summary>
    [JsonPropertyName("serving_unknown")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool ServingUnknown { get; set; }

    [JsonPropertyName("previous_release_id")] public string? PreviousReleaseId { get; set; }
    [JsonPropertyName("files_sent")] public int FilesSent { get; set; }
    [JsonPropertyName("files_linked")] public int FilesLinked { get; set; }
    [JsonPropertyName("files_removed")] public int FilesRemoved { get; set; }
    [JsonPropertyName("bytes_sent")] public long BytesSent { get; set; }
    [JsonPropertyName("seconds")] public double Seconds { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }

    /// <summary>The health check of the release switched to (null: no check): passed or not, and what it saw.</summary>
    [JsonPropertyName("healthy"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public bool? Healthy { get; set; }
    [JsonPropertyName("health"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Health { get; set; }

    /// <summary>Why a failed server failed, when the release protocol said (a retry does not fix every kind).</summary>
    [JsonIgnore] public Release.ReleaseFailure? FailureKind { get; set; }

    [JsonIgnore] public bool IsFailure => Outcome == Outcome.Failed;

    /// <summary>Whether the server serves what the operation wanted it to: the ones a retry must name are the others.</summary>
    [JsonIgnore] public bool Reached => Outcome is Outcome.Deployed or Outcome.Unchanged or Outcome.Planned or Outcome.RolledBack;
}

/// <summary>
/// The run's report: <c>artifacts/deploy-report.json</c> and a JUnit file
/// (<c>artifacts/deploy-report.xml</c>) that GitLab shows per server.
/// </summary>
public sealed record DeployReport
{
    [JsonPropertyName("operation")] public required string Operation { get; init; }
    [JsonPropertyName("release_id")] public string? ReleaseId { get; set; }
    [JsonPropertyName("commit")] public string? Commit { get; set; }
    [JsonPropertyName("started_at")] public required DateTimeOffset StartedAt { get; init; }
    [JsonPropertyName("servers")] public List<ServerReport> Servers { get; init; } = [];

    [JsonIgnore] public IEnumerable<ServerReport> Failed => Servers.Where(s => s.IsFailure);

    /// <summary>Every server that does not serve what the operation wanted (failed, held back, switched back).</summary>
    [JsonIgnore] public IEnumerable<ServerReport> NotReached => Servers.Where(s => !s.Reached);

    /// <summary>Writes both files; called from a finally (so without a token), so a failed or cancelled run still leaves them.</summary>
    public async Task WriteAsync(string artifacts)
    {
        var (json, junit) = Render();
        await ArtifactFile.WriteAllTextAsync(Path.Join(artifacts, "deploy-report.json"), json);
        await ArtifactFile.WriteAllTextAsync(Path.Join(artifacts, "deploy-report.xml"), junit);
    }

    /// <summary>The text of both files.</summary>
    public (string Json, string JUnit) Render() => (JsonSerializer.Serialize(this, DeployReportJson.Default.DeployReport), ToJUnit().ToString());

    public XDocument ToJUnit()
    {
        var cases = Servers.Select(s =>
        {
            var testcase = new XElement("testcase",
                new XAttribute("name", s.Server),
                new XAttribute("classname", "deploy"),
                new XAttribute("time", s.Seconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)));
            // A release that failed its health check is a failure even where the server was switched back to a healthy one.
            if (s.IsFailure || s.Healthy == false)
                testcase.Add(new XElement("failure", new XAttribute("message", FirstLine(s.Error ?? "failed")), s.Error ?? "failed"));
            else if (!s.Reached)
                testcase.Add(new XElement("skipped", new XAttribute("message", FirstLine(s.Error ?? s.Outcome.Text()))));
            testcase.Add(new XElement("system-out", $"{s.Outcome.Text()} {s.ReleaseId} (from {s.PreviousReleaseId ?? "none"}): {s.FilesSent} sent, {s.FilesLinked} linked, {s.FilesRemoved} removed, {s.BytesSent} bytes"));
            return testcase;
        });
        var suite = new XElement("testsuite",
            new XAttribute("name", Operation),
            new XAttribute("tests", Servers.Count),
            new XAttribute("failures", Servers.Count(s => s.IsFailure || s.Healthy == false)),
            new XAttribute("skipped", Servers.Count(s => !s.Reached && !s.IsFailure && s.Healthy != false)),
            new XAttribute("timestamp", StartedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)),
            cases);
        return new XDocument(new XElement("testsuites", suite));
    }

    private static string FirstLine(string text) => text.Split('\n')[0];
}

// Generated at compile time: the reflection-based serializer cost ~60 ms of start-up at the end of every deploy.
[JsonSerializable(typeof(DeployReport))]
[JsonSourceGenerationOptions(WriteIndented = true)]
internal sealed partial class DeployReportJson : JsonSerializerContext;
