using Build.Processes;

namespace Build.Sandbox;

/// <summary>
/// The local sandbox: two servers (<c>server1</c>, <c>server2</c>), each a real OpenSSH sshd and an
/// nginx serving <c>&lt;remote root&gt;/current</c>, with their own deploy key, known_hosts and remote
/// roots under <c>.sandbox/</c>. Started detached, so they keep running after the pipeline exits;
/// a second start reuses running servers; stop ends each daemon by its pid.
/// </summary>
public sealed class LocalSandbox(string root, IProcessRunner processes, Action<string> log, TimeProvider time)
{
    private readonly Daemons _daemons = new(time);

    public string Directory => SandboxLayout.DirectoryOf(root);
    public string StateFile => Path.Join(Directory, "sandbox.json");

    /// <summary>The running sandbox, or null when none runs (no state, or a daemon of it is gone).</summary>
    public SandboxState? Running() => RunningIn(root);

    /// <summary>The sandbox running for the repository at <paramref name="root"/>, or null.</summary>
    public static SandboxState? RunningIn(string root) =>
        SandboxState.Load(Path.Join(SandboxLayout.DirectoryOf(root), "sandbox.json")) is { IsRunning: true } state ? state : null;

    /// <summary>Reuses the running sandbox or starts one; a half-started one is stopped and the failure thrown (exit 1).</summary>
    public async Task<(SandboxState State, bool Reused)> StartAsync(LoginAccount account, MachineFacts machine, CancellationToken cancellationToken)
    {
        var previous = SandboxState.Load(StateFile);
        if (previous is { IsRunning: true } && previous.User == account.Name) return (previous, true);
        if (previous is not null && previous.Daemons.Any(Daemons.IsAlive))
        {
            log("Part of the sandbox is running and part is not: stopping it to start afresh.");
            await StopDaemonsAsync(previous, cancellationToken);
        }

        var layout = SandboxLayout.For(root, account);
        await CreateDirectoryAsync(layout.Directory, null);
        await CreateDirectoryAsync(layout.UserArea, account);
        if (!File.Exists(layout.DeployKey) || !File.Exists(layout.DeployKey + ".pub"))
            await KeyGenAsync(layout.DeployKey, "blog-sandbox-deploy", cancellationToken);
        // OpenSSH and SSH.NET want a private key only its owner can read.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(layout.DeployKey, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await File.WriteAllTextAsync(layout.AuthorizedKeys, await File.ReadAllTextAsync(layout.DeployKey + ".pub", cancellationToken), cancellationToken);

        var state = new SandboxState
        {
            User = account.Name,
            DeployKey = layout.DeployKey,
            KnownHosts = layout.KnownHosts,
            RemoteRoot = layout.RemoteRootTemplate,
            UserArea = layout.UserArea,
        };
        state.Save(StateFile);
        var starter = new ServerStarter(layout, account, machine, _daemons, time, log);
        var taken = new HashSet<int>();
        try
        {
            foreach (var name in SandboxLayout.ServerNames)
            {
                var before = previous?.Servers.FirstOrDefault(s => s.Name == name);
                await CreateDirectoryAsync(layout.ServerDirectory(name), null);
                if (!File.Exists(layout.HostKey(name)) || !File.Exists(layout.HostKey(name) + ".pub"))
                    await KeyGenAsync(layout.HostKey(name), $"blog-sandbox-{name}", cancellationToken);
                await CreateDirectoryAsync(layout.UserServerDirectory(name), account);
                await CreateDirectoryAsync(layout.RemoteRoot(name), account);
                await CreateDirectoryAsync(layout.NginxPrefix(name), account);

                var sshd = await starter.StartSshdAsync(name, before?.SshPort, taken, cancellationToken);
                var server = new SandboxServer
                {
                    Name = name, Address = ServerStarter.Address, SshPort = sshd.Port, HttpPort = 0,
                    RemoteRoot = layout.RemoteRoot(name), Daemons = [sshd.Daemon],
                };
                state.Servers.Add(server);
                state.Save(StateFile);

                var nginx = await starter.StartNginxAsync(name, before?.HttpPort, taken, cancellationToken);
                state.Servers[^1] = server with { HttpPort = nginx.Port, Daemons = [sshd.Daemon, nginx.Daemon] };
                state.Save(StateFile);
            }
            await File.WriteAllLinesAsync(layout.KnownHosts, state.Servers.Select(s =>
                $"[{s.Address}]:{s.SshPort} {File.ReadAllText(layout.HostKey(s.Name) + ".pub").Trim()}"), cancellationToken);
            return (state, false);
        }
        catch (Exception e)
        {
            // Half started: stop what did start, so nothing is left running that no state describes.
            var stopped = await StopDaemonsAsync(state, CancellationToken.None);
            if (e is OperationCanceledException) throw;
            throw new DaemonStartException($"The sandbox did not start: {e.Message}\nStopped the {stopped} daemon(s) it had started.");
        }
    }

    /// <summary>Stops every recorded daemon by pid; says so when nothing ran. Returns how many were stopped.</summary>
    public async Task<int> StopAsync(CancellationToken cancellationToken)
    {
        var state = SandboxState.Load(StateFile);
        if (state is null || !state.Daemons.Any())
        {
            log("No sandbox is running: nothing to stop.");
            return 0;
        }
        var stopped = await StopDaemonsAsync(state, cancellationToken);
        log(stopped == 0
            ? "No sandbox process was running (the recorded pids were stale, from an earlier run): nothing to stop."
            : $"Stopped the sandbox ({stopped} processes).");
        return stopped;
    }

    private async Task<int> StopDaemonsAsync(SandboxState state, CancellationToken cancellationToken)
    {
        var stopped = 0;
        foreach (var server in state.Servers)
        {
            foreach (var daemon in server.Daemons)
            {
                if (await _daemons.StopAsync(daemon, TimeSpan.FromSeconds(10), cancellationToken))
                {
                    log($"Stopped {server.Name} {daemon.Role} (pid {daemon.Pid}).");
                    stopped++;
                }
                else
                {
                    log($"{server.Name} {daemon.Role} (pid {daemon.Pid}) was not running: a stale pid.");
                }
            }
            server.Daemons.Clear();
        }
        if (File.Exists(StateFile)) state.Save(StateFile);
        return stopped;
    }

    private async Task KeyGenAsync(string path, string comment, CancellationToken cancellationToken)
    {
        foreach (var f in new[] { path, path + ".pub" }) if (File.Exists(f)) File.Delete(f);
        var result = await processes.RunAsync(new ProcessSpec("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]) { Timeout = TimeSpan.FromSeconds(30) }, cancellationToken);
        if (!result.Succeeded) throw new PipelineException($"ssh-keygen could not create {path}: {result.Tail()}");
    }

    /// <summary>Creates <paramref name="path"/> (0755); owned by <paramref name="owner"/> when that is another account.</summary>
    private async Task CreateDirectoryAsync(string path, LoginAccount? owner)
    {
        System.IO.Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        if (owner is { IsOtherUser: true })
        {
            // No managed chown: the account's uid and gid, numerically.
            var result = await processes.RunAsync(new ProcessSpec("chown", [$"{owner.Uid}:{owner.Gid}", path]) { Timeout = TimeSpan.FromSeconds(10) }, CancellationToken.None);
            if (!result.Succeeded) throw new PipelineException($"chown {owner.Name} {path}: {result.Tail()}");
        }
    }
}
