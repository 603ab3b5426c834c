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
        var starter = new ServerStarter(layout, account, machine, _daemons, time);
        try
        {
            var taken = new HashSet<int>();
            foreach (var (name, address) in SandboxLayout.Servers)
            {
                await CreateDirectoryAsync(layout.ServerDirectory(name), null);
                if (!File.Exists(layout.HostKey(name)) || !File.Exists(layout.HostKey(name) + ".pub"))
                    await KeyGenAsync(layout.HostKey(name), $"blog-sandbox-{name}", cancellationToken);
                await CreateDirectoryAsync(layout.UserServerDirectory(name), account);
                await CreateDirectoryAsync(layout.RemoteRoot(name), account);
                await CreateDirectoryAsync(layout.NginxPrefix(name), account);

                var before = previous?.Servers.FirstOrDefault(s => s.Name == name);
                var (sshd, port) = await WithFreePortAsync([address], before?.SshPort, taken, $"{name} sshd",
                    p => starter.StartSshdAsync(name, address, p, cancellationToken));
                state.Servers.Add(new SandboxServer
                {
                    Name = name, Address = address, SshPort = port, HttpPort = 0, RemoteRoot = layout.RemoteRoot(name), Daemons = [sshd],
                });
                state.Save(StateFile);
            }

            // One HTTP port for every server's nginx (each on its own address): one health URL template fits all.
            var addresses = SandboxLayout.Servers.Select(s => s.Address).ToList();
            var (_, httpPort) = await WithFreePortAsync(addresses, previous?.Servers.FirstOrDefault()?.HttpPort, taken, "nginx", async p =>
            {
                foreach (var server in state.Servers)
                {
                    var nginx = await starter.StartNginxAsync(server.Name, server.Address, p, cancellationToken);
                    server.Daemons.Add(nginx);
                    state.Save(StateFile);
                }
                return p;
            }, onTaken: async () =>
            {
                // The port went to another program on one address: the nginx already started moves with the others.
                foreach (var server in state.Servers)
                {
                    foreach (var d in server.Daemons.Where(d => d.Role == "nginx").ToList())
                    {
                        await _daemons.StopAsync(d, TimeSpan.FromSeconds(10), CancellationToken.None);
                        server.Daemons.Remove(d);
                    }
                }
                state.Save(StateFile);
            });
            for (var i = 0; i < state.Servers.Count; i++) state.Servers[i] = state.Servers[i] with { HttpPort = httpPort };
            state.Save(StateFile);
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

    /// <summary>Runs <paramref name="start"/> on a free port; a port taken between the probe and the bind makes it try another (a few times).</summary>
    private async Task<(T Result, int Port)> WithFreePortAsync<T>(
        IReadOnlyList<string> addresses, int? preferred, HashSet<int> taken, string what, Func<int, Task<T>> start, Func<Task>? onTaken = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = Ports.Choose(addresses, attempt == 1 ? preferred : null, taken, log, what);
            try
            {
                var result = await start(port);
                taken.Add(port);
                return (result, port);
            }
            catch (PortTakenException e) when (attempt < 5)
            {
                log($"{e.Message} Trying another.");
                taken.Add(port);
                if (onTaken is not null) await onTaken();
            }
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
