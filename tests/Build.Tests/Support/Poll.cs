using System.Diagnostics;

namespace Build.Tests.Support;

/// <summary>Waiting on an observable marker (a file, a socket, a line) rather than a fixed sleep.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan bound, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > bound) throw new TimeoutException($"waited {bound} for {what}");
            await Task.Delay(20);
        }
    }
}
