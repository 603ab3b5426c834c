using System.Globalization;
using System.Text;
using Build.Deployment.Release;

namespace Build.Deployment;

/// <summary>The Releases target's view of one server: current, rollback target, bad releases, the lock.</summary>
public static class ReleaseListing
{
    public static string Format(string server, string root, RemoteState state, DateTimeOffset now, TimeSpan lockTimeout)
    {
        var text = new StringBuilder();
        text.AppendLine($"{server} ({root})");
        if (!state.Exists || state.Releases.Count == 0)
        {
            text.AppendLine("  no releases yet");
        }
        foreach (var id in state.Releases.Reverse())
        {
            var marks = new List<string>();
            if (id == state.CurrentReleaseId) marks.Add("current");
            if (id == state.RollbackTarget) marks.Add("rollback target");
            if (state.Bad.Contains(id)) marks.Add("bad");
            var meta = state.Meta.GetValueOrDefault(id);
            var commit = meta?.Commit is { Length: > 0 } c ? c[..Math.Min(12, c.Length)] : "-";
            var created = meta is null ? "-" : meta.Created.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            var label = marks.Count > 0 ? $"  [{string.Join(", ", marks)}]" : "";
            text.AppendLine($"  {id}  commit {commit}  {created}{label}");
        }
        if (state.RollbackTarget is not null && state.RollbackTargetNote is { } note) text.AppendLine($"  rollback target: {note}");
        if (state.Partials.Count > 0) text.AppendLine($"  unfinished uploads: {string.Join(", ", state.Partials)} (removed by the next deploy)");
        if (state.Locked)
        {
            var owner = state.LockOwner;
            text.AppendLine($"  locked by {owner?.ToString() ?? "an unknown owner"}");
            var beat = owner?.Heartbeat is { } b ? $", last renewed {b.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z by its own clock" : "";
            text.AppendLine($"  {Heartbeat(state.LockAge, lockTimeout)}{beat}");
            text.AppendLine(IsStale(state.LockAge, lockTimeout)
                ? $"  the next deploy takes it over; --target=Unlock --server={server} removes it now"
                : $"  a deploy holds it; --target=Unlock --server={server} --force-unlock removes it anyway");
        }
        return text.ToString().TrimEnd();
    }

    /// <summary>A lock's heartbeat age as the server measured it, and what that makes the lock.</summary>
    public static string Heartbeat(TimeSpan? age, TimeSpan lockTimeout) => age switch
    {
        null => "heartbeat age unknown (no owner file, or no date on the server)",
        { } a when a < TimeSpan.Zero => $"heartbeat {-a.TotalSeconds:0} s in the future by the server's clock{(IsStale(a, lockTimeout) ? ", abandoned" : ", alive")}",
        { } a => $"heartbeat {a.TotalSeconds:0} s ago{(IsStale(a, lockTimeout) ? $", abandoned (older than --lock-timeout {lockTimeout.TotalSeconds:0} s)" : ", alive")}",
    };

    private static bool IsStale(TimeSpan? age, TimeSpan lockTimeout) => age is { } a && (a > lockTimeout || a < -lockTimeout);
}
