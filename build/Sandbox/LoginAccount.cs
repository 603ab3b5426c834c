using Build.Processes;

namespace Build.Sandbox;

/// <summary>
/// The account sandbox and test logins use. As root that is the unprivileged <c>deploytest</c>
/// (never root itself, so permission errors are real); otherwise the user running the tools,
/// the only account an unprivileged sshd can log in.
/// </summary>
public sealed record LoginAccount(string Name, int Uid, int Gid, string Home, bool IsOtherUser)
{
    public const string TestUser = "deploytest";

    public static bool RunningAsRoot => geteuid() == 0;

    /// <summary>The current user (no account to create, no owner to change).</summary>
    public static LoginAccount Current() => new(
        Environment.UserName, (int)geteuid(), (int)getegid(), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), IsOtherUser: false);

    /// <summary>Reads <paramref name="name"/> from the user database (getent), or null when there is no such account.</summary>
    public static async Task<LoginAccount?> LookUpAsync(IProcessRunner processes, string name, CancellationToken cancellationToken)
    {
        var result = await processes.RunAsync(new ProcessSpec("getent", ["passwd", name]) { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken);
        var fields = result.Output.Trim().Split(':');
        if (!result.Succeeded || fields.Length < 7 || !int.TryParse(fields[2], out var uid) || !int.TryParse(fields[3], out var gid)) return null;
        return new LoginAccount(fields[0], uid, gid, fields[5], IsOtherUser: true);
    }

    /// <summary>sshd without PAM refuses a locked account (a password field starting with "!"), even with the right key.</summary>
    public static async Task<bool> IsLockedAsync(IProcessRunner processes, string name, CancellationToken cancellationToken)
    {
        var result = await processes.RunAsync(new ProcessSpec("getent", ["shadow", name]) { Timeout = TimeSpan.FromSeconds(10) }, cancellationToken);
        var fields = result.Output.Trim().Split(':');
        return result.Succeeded && fields.Length > 1 && fields[1].StartsWith('!');
    }

    // DllImport, not LibraryImport: the latter needs unsafe code enabled for the whole project.
    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint getegid();
}
