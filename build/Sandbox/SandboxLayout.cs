namespace Build.Sandbox;

/// <summary>
/// Where the sandbox keeps its files. <c>.sandbox/</c> in the repository holds the daemons' side:
/// configs, host keys, logs (<c>.sandbox/*.log</c>), the deploy key and known_hosts. The login
/// account's side (authorized_keys, remote roots, nginx's files) is <see cref="UserArea"/>: the same
/// directory for the current user; as root, <c>.sandbox/account/</c> owned by the login account, or
/// when that account cannot reach the repository (one under <c>/root</c>), a folder in its home
/// named after the repository.
/// </summary>
public sealed record SandboxLayout(string Directory, string UserArea)
{
    public const string FolderName = ".sandbox";
    /// <summary>
    /// The servers and their loopback addresses: one address each, so that the nginx of every server can
    /// listen on the same port and one health URL template (<c>http://{host}:PORT/</c>) reaches each.
    /// </summary>
    public static readonly IReadOnlyList<(string Name, string Address)> Servers = [("server1", "127.0.0.2"), ("server2", "127.0.0.3")];

    public static string DirectoryOf(string root) => Path.Join(root, FolderName);

    public string StateFile => Path.Join(Directory, "sandbox.json");
    public string DeployKey => Path.Join(Directory, "deploy_key");
    public string KnownHosts => Path.Join(Directory, "known_hosts");
    public string AuthorizedKeys => Path.Join(UserArea, "authorized_keys");
    public string RemoteRootTemplate => Path.Join(UserArea, "{server}", "www");

    public string ServerDirectory(string server) => Path.Join(Directory, server);
    public string SshdConfig(string server) => Path.Join(ServerDirectory(server), "sshd_config");
    public string HostKey(string server) => Path.Join(ServerDirectory(server), "ssh_host_ed25519_key");
    public string SshdPidFile(string server) => Path.Join(ServerDirectory(server), "sshd.pid");
    public string SshdLog(string server) => Path.Join(Directory, $"{server}.sshd.log");
    public string NginxLog(string server) => Path.Join(Directory, $"{server}.nginx.log");

    public string UserServerDirectory(string server) => Path.Join(UserArea, server);
    public string RemoteRoot(string server) => Path.Join(UserServerDirectory(server), "www");
    public string NginxPrefix(string server) => Path.Join(UserServerDirectory(server), "nginx");
    public string NginxConfig(string server) => Path.Join(NginxPrefix(server), "nginx.conf");
    public string NginxPidFile(string server) => Path.Join(NginxPrefix(server), "nginx.pid");

    /// <summary>The layout for <paramref name="root"/>, with the user area placed for <paramref name="account"/>.</summary>
    public static SandboxLayout For(string root, LoginAccount account)
    {
        var directory = DirectoryOf(root);
        if (!account.IsOtherUser) return new SandboxLayout(directory, directory);
        // Its own subfolder: the account must not own the folder holding root's daemon configs.
        if (ReachableByOthers(root)) return new SandboxLayout(directory, Path.Join(directory, "account"));
        // A short, stable name per repository, so two clones never share remote roots.
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(directory)))[..12];
        return new SandboxLayout(directory, Path.Join(account.Home, ".blog-sandbox", hash));
    }

    /// <summary>Every directory from / down to <paramref name="path"/> lets others through (o+x).</summary>
    public static bool ReachableByOthers(string path)
    {
        for (var dir = new DirectoryInfo(path); dir is not null; dir = dir.Parent)
        {
            if (!dir.Exists || (dir.UnixFileMode & UnixFileMode.OtherExecute) == 0) return false;
        }
        return true;
    }
}
