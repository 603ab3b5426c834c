using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Build.Deployment.Progress;

/// <summary>A mark the run sets on its own timeline, outside the per-server phases.</summary>
public enum RunMark
{
    CheckStart,
    CheckEnd,
    HashStart,
    HashEnd,

    /// <summary>The deploy began connecting to the servers.</summary>
    DeployStart,
    DeployEnd,
}

/// <summary>
/// Seconds of each part of a deploy, for <c>artifacts/deploy-timing.json</c> (read by the benchmark).
/// Server phases run in parallel and overlap: each is the time from the first server entering it to the
/// last server leaving it (entering the next one). Null when the run never got there.
/// </summary>
public sealed record PhaseTimes(
    [property: JsonPropertyName("start")] double? Start,
    [property: JsonPropertyName("check")] double? Check,
    [property: JsonPropertyName("hash")] double? Hash,
    [property: JsonPropertyName("connect")] double? Connect,
    [property: JsonPropertyName("lock")] double? Lock,
    [property: JsonPropertyName("upload")] double? Upload,
    [property: JsonPropertyName("switch")] double? Switch,
    [property: JsonPropertyName("total")] double? Total)
{
    public const string FileName = "deploy-timing.json";

    public string ToJson() => JsonSerializer.Serialize(this, PhaseTimesJson.Default.PhaseTimes);

    public static PhaseTimes? FromJson(string json) => JsonSerializer.Deserialize(json, PhaseTimesJson.Default.PhaseTimes);
}

/// <summary>
/// Records when the run reached each mark and when each server entered each deploy phase (by wrapping the
/// progress display), relative to the process's start: <c>build.sh</c> execs the program, so the process
/// started when the user's command did.
/// </summary>
public sealed class PhaseClock(TimeProvider time, DateTimeOffset processStart)
{
    private readonly TimeProvider _time = time;
    private readonly ConcurrentDictionary<RunMark, DateTimeOffset> _marks = new();
    private readonly ConcurrentQueue<(string Server, DeployPhase Phase, DateTimeOffset At)> _phases = new();

    public static PhaseClock ForThisProcess(TimeProvider time)
    {
        DateTimeOffset start;
        try
        {
            using var self = System.Diagnostics.Process.GetCurrentProcess();
            start = self.StartTime.ToUniversalTime();
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception)
        {
            start = time.GetUtcNow();
        }
        return new PhaseClock(time, start);
    }

    /// <summary>Sets a mark; the first setting of a mark counts.</summary>
    public void Mark(RunMark mark) => _marks.TryAdd(mark, _time.GetUtcNow());

    public IDeployProgress Wrap(IDeployProgress inner) => new Recording(this, inner);

    public PhaseTimes Times()
    {
        double? Between(DateTimeOffset? from, DateTimeOffset? to) =>
            from is { } f && to is { } t && t >= f ? Math.Round((t - f).TotalSeconds, 3) : null;
        DateTimeOffset? At(RunMark m) => _marks.TryGetValue(m, out var at) ? at : null;

        var byServer = _phases.ToArray().GroupBy(p => p.Server).Select(g => g.OrderBy(p => p.At).ToArray()).ToArray();

        // Per server, a phase runs from its first entry to the next event that is another phase
        // (a warning or a retry note is not); the run's figure spans every server's.
        double? Span(DeployPhase phase)
        {
            DateTimeOffset? from = null, to = null;
            foreach (var events in byServer)
            {
                var i = Array.FindIndex(events, e => e.Phase == phase);
                if (i < 0) continue;
                var next = events.Skip(i + 1).FirstOrDefault(e => e.Phase != phase && e.Phase is not (DeployPhase.Warning or DeployPhase.Retry));
                if (next.Server is null) continue;
                if (from is null || events[i].At < from) from = events[i].At;
                if (to is null || next.At > to) to = next.At;
            }
            return Between(from, to);
        }

        return new PhaseTimes(
            // Host start, assembly loading, settings, the task graph: everything before the first real work.
            Start: Between(processStart, At(RunMark.CheckStart) ?? At(RunMark.DeployStart)),
            Check: Between(At(RunMark.CheckStart), At(RunMark.CheckEnd)),
            Hash: Between(At(RunMark.HashStart), At(RunMark.HashEnd)),
            Connect: Span(DeployPhase.Connect) is { } connect && At(RunMark.DeployStart) is { } deployStart && byServer.Length > 0
                // From the deploy's start: opening the first connection is part of it.
                ? Math.Round(connect + (byServer.SelectMany(e => e).Where(p => p.Phase == DeployPhase.Connect).Min(p => p.At) - deployStart).TotalSeconds, 3)
                : null,
            Lock: Span(DeployPhase.Lock),
            Upload: Span(DeployPhase.Upload),
            Switch: Span(DeployPhase.Switch),
            Total: Between(processStart, At(RunMark.DeployEnd)));
    }

    private sealed class Recording(PhaseClock clock, IDeployProgress inner) : IDeployProgress
    {
        public void Phase(string server, DeployPhase phase, string? detail = null)
        {
            clock._phases.Enqueue((server, phase, clock._time.GetUtcNow()));
            inner.Phase(server, phase, detail);
        }

        public void Upload(string server, long sent, long total) => inner.Upload(server, sent, total);
    }
}

[JsonSerializable(typeof(PhaseTimes))]
internal sealed partial class PhaseTimesJson : JsonSerializerContext;
