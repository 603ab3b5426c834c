using System.Text;
using Build.Settings;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Build.Deployment.Ssh;

/// <summary>
/// The deploy key, read once from <c>--ssh-key</c> / <c>SSH_PRIVATE_KEY</c> (a path, or the key text with
/// CRLF line ends or no final newline) and kept in memory only: it is never written to disk.
/// Each connection gets its own <see cref="PrivateKeyFile"/> so no key object is shared across threads.
/// </summary>
public sealed class SshPrivateKey
{
    private readonly byte[] _text;
    private readonly string? _passphrase;

    private SshPrivateKey(byte[] text, string? passphrase, string origin)
    {
        _text = text;
        _passphrase = passphrase;
        Origin = origin;
    }

    /// <summary>Where the key came from (for messages; never the key itself).</summary>
    public string Origin { get; }

    /// <summary>Reads and checks the key; a bad key or passphrase is a settings error (exit 2).</summary>
    public static SshPrivateKey Load(PathOrText source, string? passphrase)
    {
        string text;
        if (source.Path is { } path)
        {
            if (!File.Exists(path))
                throw new SettingsException($"{source.Origin}: the SSH private key file {path} does not exist. Give the deploy key's path with --ssh-key, or its text or path in SSH_PRIVATE_KEY.");
            try { text = File.ReadAllText(path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SettingsException($"{source.Origin}: cannot read the SSH private key file {path}: {e.Message}");
            }
        }
        else
        {
            text = source.Text ?? "";
        }

        var key = new SshPrivateKey(Encoding.UTF8.GetBytes(Normalize(text)), string.IsNullOrEmpty(passphrase) ? null : passphrase, source.Origin);
        if (!text.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
            throw new SettingsException($"{source.Origin}: not an SSH private key (no \"-----BEGIN ... PRIVATE KEY-----\" line). "
                + "Give an OpenSSH ed25519 or RSA private key, as a file path or as the key's text.");
        key.CreateKeyFile().Dispose(); // Parse now, so a bad key or passphrase fails before any connection.
        return key;
    }

    /// <summary>A fresh key object for one connection. The caller disposes it with the connection.</summary>
    public PrivateKeyFile CreateKeyFile()
    {
        using var stream = new MemoryStream(_text, writable: false);
        try
        {
            return _passphrase is null ? new PrivateKeyFile(stream) : new PrivateKeyFile(stream, _passphrase);
        }
        catch (SshPassPhraseNullOrEmptyException)
        {
            throw new SettingsException($"{Origin}: the SSH private key is encrypted. Set its passphrase in SSH_KEY_PASSPHRASE.");
        }
        catch (Exception e) when (e is not SettingsException)
        {
            // Never include the key text; SSH.NET's messages do not either.
            var hint = _passphrase is null ? "" : " Check SSH_KEY_PASSPHRASE.";
            throw new SettingsException($"{Origin}: cannot read the SSH private key ({e.GetType().Name}: {e.Message}). "
                + $"Give an OpenSSH ed25519 or RSA private key.{hint}");
        }
    }

    /// <summary>CRLF to LF, surrounding blank space dropped, exactly one final newline.</summary>
    public static string Normalize(string text) =>
        text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Trim() + "\n";
}
