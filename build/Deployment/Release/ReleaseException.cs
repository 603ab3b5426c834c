namespace Build.Deployment.Release;

public enum ReleaseFailure
{
    /// <summary>The site or a setting is unusable (exit 2 territory).</summary>
    BadInput,
    /// <summary><c>&lt;root&gt;/current</c> exists and is not a symlink: refused, never deleted.</summary>
    CurrentNotSymlink,
    /// <summary>The remote root cannot be created or written by the SSH user.</summary>
    NotWritable,
    /// <summary>Another run holds the lock and did not release it within the wait bound.</summary>
    LockHeld,
    /// <summary>This run's lock disappeared or was taken by another run between two steps.</summary>
    LockLost,
    /// <summary>The staged release did not match the manifest or the stream (tar status, count, bytes, hash).</summary>
    VerifyFailed,
    /// <summary>A release id that does not exist on the server (rollback --release, switch).</summary>
    MissingRelease,
    /// <summary>No release to roll back to.</summary>
    NoRollbackTarget,
    /// <summary>After a reconnect, current no longer points where this deploy found it: another deploy switched; nothing was switched.</summary>
    CurrentChanged,
    /// <summary>A file linked from the current release was edited on the server since it was sealed (found as the upload sealed): plan again.</summary>
    EditedOnServer,
    /// <summary>The remote script failed in another way or answered something unexpected.</summary>
    Remote,
}

/// <summary>
/// A failure of the release protocol on one server. <see cref="Transient"/> tells the fan-out whether a retry
/// (fresh staging directory, same lock) can help: a failed verification can, a refusal or a held lock cannot.
/// </summary>
public sealed class ReleaseException(string message, ReleaseFailure kind, Exception? inner = null)
    : PipelineException(message, kind == ReleaseFailure.BadInput ? ExitCodes.BadSettings : ExitCodes.SomeServersFailed, inner)
{
    public ReleaseFailure Kind { get; } = kind;

    public bool Transient => Kind is ReleaseFailure.VerifyFailed;
}
