using System.Collections.Concurrent;
using System.Diagnostics;
using Spectre.Console;

namespace Build.Deployment.Progress;

/// <summary>Per-server progress of a deploy: phases (connect, plan, upload, verify, switch) and upload bytes.</summary>
public interface IDeployProgress
{
    void Phase(string server, DeployPhase phase, string? detail = null);

    void Upload(string server, long sent, long total);
}

/// <summary>
/// Where progress goes: plain lines in CI or when output is redirected (a line per server per
/// phase, upload bytes at most every few seconds); live bars on a terminal.
/// </summary>
public static class ProgressDisplay
{
    public static async Task<T> RunAsync<T>(IReadOnlyList<string> servers, bool live, Action<string> log, Func<IDeployProgress, Task<T>> work)
    {
        if (!live || servers.Count == 0) return await work(new PlainProgress(log, TimeProvider.System));

        T result = default!;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
            .StartAsync(async ctx =>
            {
                var tasks = servers.ToDictionary(s => s, s => ctx.AddTask(Describe(s, "waiting", null), maxValue: 1));
                result = await work(new LiveProgress(tasks));
            });
        return result;
    }

    /// <summary>Live bars only on an interactive terminal outside CI.</summary>
    public static bool IsInteractive =>
        !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("CI") is null && AnsiConsole.Profile.Capabilities.Interactive;

    internal static string Describe(string server, string phase, string? detail) =>
        Markup.Escape(detail is null ? $"{server}: {phase}" : $"{server}: {phase} {detail}");

    internal sealed class LiveProgress(IReadOnlyDictionary<string, ProgressTask> tasks) : IDeployProgress
    {
        public void Phase(string server, DeployPhase phase, string? detail = null)
        {
            if (!tasks.TryGetValue(server, out var task)) return;
            task.Description = Describe(server, phase.Text(), detail);
            // Every phase that ends a server's part, held-back and switched-back too, or that server's bar never completes.
            if (phase.EndsServer()) task.Value = task.MaxValue;
        }

        public void Upload(string server, long sent, long total)
        {
            if (!tasks.TryGetValue(server, out var task)) return;
            task.MaxValue = Math.Max(total, 1);
            task.Value = sent;
        }
    }
}

/// <summary>Plain lines, readable in a CI log; each phase line says when it began, so the log shows where the time went.</summary>
public sealed class PlainProgress(Action<string> log, TimeProvider time) : IDeployProgress
{
    private static readonly TimeSpan UploadInterval = TimeSpan.FromSeconds(3);
    private readonly ConcurrentDictionary<string, long> _lastUploadLine = new();
    private readonly long _start = time.GetTimestamp();

    public void Phase(string server, DeployPhase phase, string? detail = null)
    {
        var at = time.GetElapsedTime(_start).TotalSeconds.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
        log(detail is null ? $"{server}: {phase.Text()} (+{at}s)" : $"{server}: {phase.Text()} {detail} (+{at}s)");
    }

    public void Upload(string server, long sent, long total)
    {
        var now = time.GetTimestamp();
        var last = _lastUploadLine.GetOrAdd(server, 0);
        var done = sent >= total;
        if (!done && last != 0 && time.GetElapsedTime(last, now) < UploadInterval) return;
        _lastUploadLine[server] = now;
        log($"{server}: upload {Bytes(sent)} of {Bytes(total)}");
    }

    public static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.0} KB",
        _ => $"{bytes / (1024.0 * 1024):0.0} MB",
    };
}
