using System.Globalization;
using System.Text;
using Build.Deployment.Release;

namespace Build.Deployment;

/// <summary>The Releases target's view of one server: current, rollback target, bad releases, the lock.</summary>
public static class ReleaseListing
{
    /// <param name="serves">With --health-url: what the web server's marker URL answers now (shown next to current).</param>
    public static string Format(string server, string root, RemoteState state, DateTimeOffset now, TimeSpan lockTimeout, string? serves = null)
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
            if (id == state.CurrentReleaseId) marks.Add(serves is null ? "current" : $"current, web server serves {serves}");
            if (id == state.RollbackTarget) marks.Add("rollback target");
            if (state.Bad.Contains(id)) marks.Add("bad");
            var meta = state.Meta.GetValueOrDefault(id);
            var commit = meta?.Commit is { Length: > 0 } c ? c[..Math.Min(12, c.Length)] : "-";
            var created = meta is null ? "-" : meta.Created.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            var label = marks.Count > 0 ? $"  [{string.Join(", ", marks)}]" : "";
            text.AppendLine($"  {id}  commit {commit}  {created}{label}");
        }
        if (serves is not null && state.CurrentReleaseId is null) text.AppendLine($"  web server serves {serves}");
        if (state.RollbackTarget is not null && state.RollbackTargetNote is { } note) text.AppendLine($"  rollback target: {note}");
        if (state.Partials.Count > 0) text.AppendLine($"  unfinished uploads: {string.Join(", ", state.Partials)} (removed by the next deploy)");
        if (state.Locked)
        {
            var stale = state.LockOwner?.Age(now) is { } age && age > lockTimeout ? " (stale)" : "";
            text.AppendLine($"  locked by {state.LockOwner?.ToString() ?? "an unknown owner"}{stale}; --target=Unlock --server={server} removes it");
        }
        return text.ToString().TrimEnd();
    }
}
