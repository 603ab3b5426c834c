using Build.Processes;

namespace Build.Tests.Processes;

/// <summary><see cref="BackgroundPriority"/>: the calling thread's nice value goes up, and only that thread's (Linux).</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class BackgroundPriorityTests
{
    [Fact]
    public void Lowers_the_calling_thread_only()
    {
        var before = Nice("thread-self");
        int? lowered = null;
        var worker = new Thread(() =>
        {
            BackgroundPriority.LowerCurrentThread();
            lowered = Nice("thread-self");
        });
        worker.Start();
        worker.Join();

        Assert.Equal(Math.Min(19, before + BackgroundPriority.Nice), lowered);
        Assert.Equal(before, Nice("thread-self"));
    }

    // Field 19 of /proc/<task>/stat; the command name (field 2) is in parentheses and may hold spaces.
    private static int Nice(string task)
    {
        var stat = File.ReadAllText($"/proc/{task}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[19 - 3], System.Globalization.CultureInfo.InvariantCulture);
    }
}
