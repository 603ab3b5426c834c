using Cake.Core.Diagnostics;

namespace Build.Tailnet;

/// <summary>The leave, run from the lifetime's teardown after success, failure or a signal.</summary>
public static class TailnetTeardown
{
    public static void Leave(BuildContext context)
    {
        if (context.TailnetSession is not { } session) return;
        try
        {
            session.LeaveAsync().GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            // The teardown must finish whatever happens; the leave already bounds itself.
            context.Log.Warn($"Leaving the tailnet failed: {e.Message}");
        }
    }
}
