using System.Net.Sockets;
using Renci.SshNet.Common;
using Renci.SshNet.Messages.Transport;

namespace Build.Deployment.Ssh;

public enum SshFailureKind
{
    HostUnknown,
    HostKeyMismatch,
    HostKeyRevoked,
    AuthenticationFailed,
    PermissionDenied,
}

/// <summary>
/// An SSH failure that retrying cannot fix (host key unknown or changed, key refused): the message
/// names the server and says what to do. Never retried.
/// </summary>
public sealed class SshPermanentException(string server, SshFailureKind kind, string message, Exception? inner = null)
    : PipelineException(message, ExitCodes.TaskFailed, inner)
{
    public string Server { get; } = server;
    public SshFailureKind Kind { get; } = kind;
}

/// <summary>A connect that did not finish within <c>--connect-timeout</c>: transient.</summary>
public sealed class SshConnectTimeoutException(string message, Exception? inner = null) : TimeoutException(message, inner);

/// <summary>Sorts SSH errors into worth-retrying (the network) and not (trust, credentials).</summary>
public static class SshErrors
{
    /// <summary>
    /// True for socket errors, dropped connections, timeouts and SOCKS errors; false for
    /// authentication and host key failures, permission problems, cancellation and anything unknown.
    /// </summary>
    public static bool IsTransient(Exception exception)
    {
        switch (exception)
        {
            case SshPermanentException:
            case SshAuthenticationException:
            case SshPassPhraseNullOrEmptyException:
            case OperationCanceledException:
            case UnauthorizedAccessException:
            case Build.Settings.SettingsException:
                return false;
            case SshConnectionException connection:
                return connection.DisconnectReason is not (
                    DisconnectReason.HostKeyNotVerifiable
                    or DisconnectReason.NoMoreAuthenticationMethodsAvailable
                    or DisconnectReason.IllegalUserName
                    or DisconnectReason.AuthenticationCanceledByUser
                    or DisconnectReason.ProtocolVersionNotSupported
                    or DisconnectReason.HostNotAllowedToConnect);
            case SocketException:
            case TimeoutException: // includes SshConnectTimeoutException
            case SshOperationTimeoutException:
            case ProxyException:
            case IOException:
            case ObjectDisposedException: // SSH.NET's session objects after the socket died
                return true;
            case SshException ssh:
                // Generic SSH.NET errors ("Channel was closed", "Client not connected") are connection trouble.
                return !ssh.Message.Contains("denied", StringComparison.OrdinalIgnoreCase);
            case AggregateException aggregate:
                return aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsTransient);
        }
        return exception.InnerException is { } inner && IsTransient(inner);
    }
}
