using System.Text.Json.Serialization;

namespace Build.Deployment.Progress;

/// <summary>A step of one server's part in an operation, as progress shows it; written as kebab-case (<c>held-back</c>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DeployPhase>))]
public enum DeployPhase
{
    [JsonStringEnumMemberName("connect")] Connect,
    [JsonStringEnumMemberName("lock")] Lock,
    [JsonStringEnumMemberName("warning")] Warning,
    [JsonStringEnumMemberName("plan")] Plan,
    [JsonStringEnumMemberName("would-send")] WouldSend,
    [JsonStringEnumMemberName("planned")] Planned,
    [JsonStringEnumMemberName("upload")] Upload,
    [JsonStringEnumMemberName("verified")] Verified,
    [JsonStringEnumMemberName("unchanged")] Unchanged,
    [JsonStringEnumMemberName("switch")] Switch,
    [JsonStringEnumMemberName("switched")] Switched,
    [JsonStringEnumMemberName("held-back")] HeldBack,
    [JsonStringEnumMemberName("switch-back")] SwitchBack,
    [JsonStringEnumMemberName("switched-back")] SwitchedBack,
    [JsonStringEnumMemberName("rollback")] Rollback,
    [JsonStringEnumMemberName("rolled-back")] RolledBack,
    [JsonStringEnumMemberName("retry")] Retry,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("done")] Done,
}

public static class DeployPhases
{
    /// <summary>Whether the phase ends a server's part of the operation (its live bar completes).</summary>
    public static bool EndsServer(this DeployPhase phase) => phase is DeployPhase.Switched or DeployPhase.Unchanged or DeployPhase.Failed
        or DeployPhase.Planned or DeployPhase.RolledBack or DeployPhase.HeldBack or DeployPhase.SwitchedBack or DeployPhase.Done;
}
