using System.Net.Sockets;
using System.Net;
using Build.Settings;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Build.Deployment.Ssh;

/// <summary>
/// Opens one SSH connection per server: the deploy key, user and port from the settings, host keys
/// checked against known_hosts (fail closed), through a SOCKS5 endpoint when the tailnet runs in
/// userspace mode, keep-alive on, connect bounded by <c>--connect-timeout</c>.
/// </summary>
public sealed class SshConnector
{
    private readonly SshPrivateKey _key;
    private readonly KnownHosts _knownHosts;
    private readonly string _user;
    private readonly int _defaultPort;
    private readonly TimeSpan _connectTimeout;
    private readonly DnsEndPoint? _socks5;
    private readonly TimeSpan _keepAlive;

    public SshConnector(SshPrivateKey key, KnownHosts knownHosts, string user, int defaultPort, TimeSpan connectTimeout,
        DnsEndPoint? socks5 = null, TimeSpan? keepAlive = null)
    {
        _key = key;
        _knownHosts = knownHosts;
        _user = user;
        _defaultPort = defaultPort;
        _connectTimeout = connectTimeout;
        _socks5 = socks5;
        _keepAlive = keepAlive ?? TimeSpan.FromSeconds(15);
    }

    /// <summary>Reads the key and known_hosts named by the settings (once per run; errors are exit 2).</summary>
    public static SshConnector FromSettings(SshSettings settings, DnsEndPoint? socks5 = null) =>
        new(SshPrivateKey.Load(settings.Key, settings.KeyPassphrase), LoadKnownHosts(settings.KnownHosts),
            settings.User, settings.Port, settings.ConnectTimeout, socks5);

    /// <summary>
    /// known_hosts from a path or text. A missing default file counts as empty, so every server fails
    /// with the line to add; a missing file that was named explicitly is a settings error.
    /// </summary>
    public static KnownHosts LoadKnownHosts(PathOrText source)
    {
        if (source.Text is { } text) return KnownHosts.Parse(text);
        if (File.Exists(source.Path)) return KnownHosts.Parse(File.ReadAllText(source.Path));
        if (source.Origin == "default") return KnownHosts.Parse("");
        throw new SettingsException($"{source.Origin}: the known_hosts file {source.Path} does not exist. "
            + "Give the path of a known_hosts file holding the servers' host keys with --known-hosts, or its text in SSH_KNOWN_HOSTS.");
    }

    public string User => _user;

    public int PortOf(DeployTarget target) => target.Port ?? _defaultPort;

    /// <summary>Connects and authenticates. Permanent failures throw <see cref="SshPermanentException"/>;
    /// see <see cref="SshErrors.IsTransient"/> for the rest.</summary>
    public async Task<SshConnection> ConnectAsync(DeployTarget target, CancellationToken cancellationToken)
    {
        var port = PortOf(target);
        var names = target.KnownHostNames().Where(n => n.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var where = $"{target.Name} ({KnownHosts.HostPattern(target.Address, port)})";

        var keyFile = _key.CreateKeyFile();
        var auth = new PrivateKeyAuthenticationMethod(_user, keyFile);
        var info = _socks5 is null
            ? new ConnectionInfo(target.Address, port, _user, auth)
            : new ConnectionInfo(target.Address, port, _user, ProxyTypes.Socks5, _socks5.Host, _socks5.Port, null, null, auth);
        info.Timeout = _connectTimeout;
        try { LimitHostKeyAlgorithms(info, _knownHosts.KnownKeyTypes(names, port), target.Name, where); }
        catch { keyFile.Dispose(); throw; }
        PreferAeadCiphers(info);
        PreferCheapKeyExchange(info);

        HostKeyVerdict? verdict = null;
        var client = new SshClient(info) { KeepAliveInterval = _keepAlive };
        client.HostKeyReceived += (_, e) =>
        {
            verdict = _knownHosts.Check(names, port, e.HostKey, where);
            e.CanTrust = verdict.IsTrusted;
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_connectTimeout);
        try
        {
            await client.ConnectAsync(timeout.Token).ConfigureAwait(false);
            return new SshConnection(target, client, keyFile, verdict?.FingerprintSha256);
        }
        catch (Exception e)
        {
            client.Dispose();
            keyFile.Dispose();
            if (verdict is { IsTrusted: false } v)
            {
                var kind = v.Status switch
                {
                    HostKeyStatus.Unknown => SshFailureKind.HostUnknown,
                    HostKeyStatus.Revoked => SshFailureKind.HostKeyRevoked,
                    _ => SshFailureKind.HostKeyMismatch,
                };
                throw new SshPermanentException(target.Name, kind, v.Message, e);
            }
            // SSH.NET turns the token's cancellation into SshOperationTimeoutException; either way it was our bound.
            if ((e is OperationCanceledException or SshOperationTimeoutException) && !cancellationToken.IsCancellationRequested)
                throw new SshConnectTimeoutException($"SSH connect to {where} did not finish within {_connectTimeout.TotalSeconds:0.#}s (--connect-timeout).", e);
            if (e is SshAuthenticationException)
                throw new SshPermanentException(target.Name, SshFailureKind.AuthenticationFailed,
                    $"SSH login to {where} as \"{_user}\" was refused ({e.Message}). Check that the deploy key's public key is in "
                    + $"~{_user}/.ssh/authorized_keys on the server and that --ssh-user / DEPLOY_SSH_USER names that account. "
                    + $"A locked account (useradd -m and adduser -D create one) is refused even with the right key where sshd runs without PAM "
                    + $"(Alpine, UsePAM no): unlock it with usermod -p '*' {_user}. Not retried.", e);
            if (FindSocketError(e) is SocketError.ConnectionRefused)
                throw new IOException(
                    $"Connection to {target.Address} port {port} ({target.Name}) was refused: nothing accepts SSH there. "
                    + "Check the address, the port (--ssh-port, or name=address:port in --hosts) and the firewall or tailnet policy "
                    + $"(an ACL rule that lets this node reach port {port}).", e);
            if (e is SshConnectionException && e.Message.Contains("host key algorithm", StringComparison.OrdinalIgnoreCase))
                throw new SshPermanentException(target.Name, SshFailureKind.HostKeyMismatch,
                    $"HOST KEY MISMATCH for {where}: the server offers none of the host key types known_hosts holds for it "
                    + $"({string.Join(", ", _knownHosts.KnownKeyTypes(names, port))}). Verify the server's new host keys and update known_hosts. Not retried.", e);
            throw;
        }
    }

    private static SocketError? FindSocketError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is SocketException socket) return socket.SocketErrorCode;
        return null;
    }

    // Offer only the algorithms of the key types known for this host, so the server presents the
    // key known_hosts has rather than another type it also holds (which would look unknown).
    private static void LimitHostKeyAlgorithms(ConnectionInfo info, IReadOnlyList<string> knownTypes, string server, string where)
    {
        var allowed = knownTypes.SelectMany(AlgorithmsFor).ToHashSet(StringComparer.Ordinal);
        foreach (var name in info.HostKeyAlgorithms.Keys.ToArray())
        {
            // Certificates are not trusted here (no @cert-authority support): never offer them.
            var isCert = name.Contains("-cert-", StringComparison.Ordinal);
            if (isCert || (allowed.Count > 0 && !allowed.Contains(name)))
                info.HostKeyAlgorithms.Remove(name, out _);
        }
        if (info.HostKeyAlgorithms.Count == 0)
            throw new SshPermanentException(server, SshFailureKind.HostKeyMismatch,
                $"known_hosts holds only {string.Join(", ", knownTypes)} keys for {where}, which this client cannot verify. Add an ed25519, ECDSA or RSA host key line.");
    }

    // AES-GCM is one pass with hardware AES (SSH.NET uses .NET's AesGcm); the default pick,
    // aes128-ctr + hmac-sha2-256, is two. Measured on 30 MB of stdin: as fast or faster. Servers
    // without GCM negotiate the next cipher as before.
    private static void PreferAeadCiphers(ConnectionInfo info)
    {
        string[] preferred = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"];
        for (var i = preferred.Length - 1; i >= 0; i--)
            if (info.Encryptions.ContainsKey(preferred[i]))
                info.Encryptions.SetPosition(preferred[i], 0);
    }

    // sntrup761 (OpenSSH's default from 8.5 to 9.8) costs SSH.NET 130-150 ms of CPU per handshake in managed
    // BouncyCastle, a fifth of a deploy's connect; curve25519 costs a few. What a deploy sends is the public site, and
    // logging in signs (no secret crosses), so it goes after curve25519. mlkem768x25519 (OpenSSH 9.9+), post-quantum
    // much cheaper than sntrup761, stays first.
    private static void PreferCheapKeyExchange(ConnectionInfo info)
    {
        foreach (var name in info.KeyExchangeAlgorithms.Keys.Where(n => n.StartsWith("sntrup761", StringComparison.Ordinal)).ToArray())
            info.KeyExchangeAlgorithms.SetPosition(name, info.KeyExchangeAlgorithms.Count - 1);
    }

    private static IEnumerable<string> AlgorithmsFor(string keyType) => keyType switch
    {
        "ssh-rsa" => ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
        _ => [keyType],
    };
}

/// <summary>One authenticated connection to a server, with a shell to run remote scripts over it.</summary>
public sealed class SshConnection : IDisposable
{
    private readonly PrivateKeyFile _keyFile;

    internal SshConnection(DeployTarget target, SshClient client, PrivateKeyFile keyFile, string? hostKeyFingerprint)
    {
        Target = target;
        Client = client;
        _keyFile = keyFile;
        HostKeyFingerprint = hostKeyFingerprint;
        Shell = new SshRemoteShell(client);
    }

    public DeployTarget Target { get; }
    public SshClient Client { get; }
    public SshRemoteShell Shell { get; }

    /// <summary>SHA256 fingerprint (unpadded base64) of the host key the server presented.</summary>
    public string? HostKeyFingerprint { get; }

    public bool IsConnected => Client.IsConnected;

    public void Dispose()
    {
        Shell.Close();
        try { if (Client.IsConnected) Client.Disconnect(); }
        catch (Exception e) when (SshErrors.IsTransient(e)) { /* the connection is already gone */ }
        Client.Dispose();
        _keyFile.Dispose();
    }
}
