using System.Net;
using System.Net.Sockets;
using Build.Deployment;
using Build.Output;
using Build.Processes;
using Build.Settings;
using Cake.Core.Diagnostics;

namespace Build.Tailnet;

/// <summary>Bounds on leaving, so a teardown can never hang.</summary>
public sealed record LeaveBounds
{
    public TimeSpan Logout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan TermGrace { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan KillWait { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// The pipeline's place on the tailnet: decides the mode, starts and joins an ephemeral node
/// (join), or uses this machine's daemon (existing), lists servers, and always leaves what it joined.
/// </summary>
public sealed class TailnetSession
{
    public const string DaemonLogName = "tailscaled.log";
    private const int DefaultPort = 41641;
    private const string KernelTun = "tailscale0";
    private const string UserspaceTun = "userspace-networking";

    private readonly TailnetSettings _settings;
    private readonly IProcessRunner _runner;
    private readonly Redactor _redactor;
    private readonly ICakeLog _log;
    private readonly string _artifacts;
    private readonly Func<string, string?> _environment;
    private readonly TimeProvider _time;
    private readonly LeaveBounds _leave;
    private readonly Lock _gate = new();
    private TailscaleDaemon? _daemon;
    private KeyFile? _keyFile;
    private DirectoryInfo? _workDirectory;
    private int _left;

    public TailnetSession(
        TailnetSettings settings,
        IProcessRunner runner,
        Redactor redactor,
        ICakeLog log,
        string artifacts,
        Func<string, string?> environment,
        TimeProvider? time = null,
        LeaveBounds? leave = null)
    {
        _settings = settings;
        _runner = runner;
        _redactor = redactor;
        _log = log;
        _artifacts = artifacts;
        _environment = environment;
        _time = time ?? TimeProvider.System;
        _leave = leave ?? new LeaveBounds();
    }

    /// <summary>The mode in effect once <see cref="StartAsync"/> has decided it.</summary>
    public TailnetMode? Mode { get; private set; }

    public TailscaleCli? Cli { get; private set; }

    /// <summary>Set in userspace networking: connections to servers go through this SOCKS5 proxy.</summary>
    public DnsEndPoint? Socks5Proxy { get; private set; }

    public string? Hostname { get; private set; }

    /// <summary>The tags given to <c>up</c>: the settings' with an OAuth client secret, none with an auth key.</summary>
    public IReadOnlyList<string> AdvertisedTags { get; private set; } = [];

    public TailnetStatus? Status { get; private set; }

    public TailscaleDaemon? Daemon => _daemon;

    public string DaemonLog => Path.Join(_artifacts, DaemonLogName);

    public string RecordPath => Path.Join(_artifacts, TailnetRecord.FileName);

    /// <summary>How long the last start took from launching the daemon to <c>Running</c>.</summary>
    public TimeSpan? TimeToRunning { get; private set; }

    /// <summary>Decides the mode and gets onto the tailnet (join or existing); off does nothing.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var mode = await ResolveModeAsync(cancellationToken);
        Mode = mode;
        switch (mode)
        {
            case TailnetMode.Join:
                await JoinAsync(cancellationToken);
                break;
            case TailnetMode.Existing:
                await UseExistingAsync(cancellationToken);
                break;
            default:
                _log.Info("Tailnet: off (servers come from --hosts).");
                break;
        }
    }

    /// <summary>
    /// <c>auto</c>: join if a secret is set, else existing if a local tailscaled is Running, else
    /// off when <c>--hosts</c> is given, else an error naming the variable to set.
    /// </summary>
    public async Task<TailnetMode> ResolveModeAsync(CancellationToken cancellationToken)
    {
        switch (_settings.Mode)
        {
            case TailnetMode.Join:
                // TailnetSettings refuses join without a secret before anything runs.
                return TailnetMode.Join;
            case TailnetMode.Existing or TailnetMode.Off:
                return _settings.Mode;
        }
        if (_settings.Secret is not null) return TailnetMode.Join;
        if (TailscaleBinaries.Find("tailscale", _environment) is { } cli)
        {
            var status = await new TailscaleCli(cli, _settings.Socket, _runner).TryStatusAsync(TimeSpan.FromSeconds(5), cancellationToken);
            if (status is { IsRunning: true })
            {
                _log.Info("Tailnet: auto → existing (this machine's tailscaled is Running).");
                return TailnetMode.Existing;
            }
        }
        if (_settings.HasHosts)
        {
            _log.Info("Tailnet: auto → off (no secret, no running tailscaled; servers from --hosts).");
            return TailnetMode.Off;
        }
        throw new SettingsException(
            "No way onto the tailnet: set TS_OAUTH_SECRET (an OAuth client secret with the auth_keys scope and tag:ci; or TS_AUTHKEY) to join as an ephemeral node, " +
            "run on a machine whose tailscaled is Running (--tailnet=existing), or give --hosts=name=address,... to deploy without the tailnet.");
    }

    private async Task UseExistingAsync(CancellationToken cancellationToken)
    {
        Cli = new TailscaleCli(TailscaleBinaries.LocateCli(_environment), _settings.Socket, _runner);
        var status = await Cli.TryStatusAsync(_settings.ReadyTimeout, cancellationToken);
        if (status is null)
            throw new SettingsException($"--tailnet=existing: no local tailscaled answers{(Cli.Socket is null ? "" : $" on {Cli.Socket}")}. Start it (and `tailscale up`), give --ts-socket, or set TS_OAUTH_SECRET and use --tailnet=join.");
        if (!status.IsRunning)
            throw new SettingsException($"--tailnet=existing: the local tailscaled is {status.BackendState}, not Running. Run `tailscale up`, or set TS_OAUTH_SECRET and use --tailnet=join.");
        Status = status;
        _log.Info($"Tailnet: using this machine's tailscaled ({status.Self?.DNSName?.TrimEnd('.') ?? "?"}); it will not be logged out.");
    }

    private async Task JoinAsync(CancellationToken cancellationToken)
    {
        // Everything that can be refused is checked before anything starts.
        var key = AuthKey.Parse(_settings.Secret!);
        if (key.Kind == AuthKeyKind.OAuthClientSecret && _settings.Tags.Count == 0)
            throw new SettingsException("An OAuth client secret needs tags for the node: give --ts-tags (or TS_TAGS), e.g. tag:ci.");
        // Only an OAuth client secret takes tags (it requires them); an auth key was made with its own tags.
        AdvertisedTags = key.Kind == AuthKeyKind.OAuthClientSecret ? _settings.Tags : [];
        if (key.Kind == AuthKeyKind.AuthKey && _settings.TagsGivenIn is { } tagsOrigin)
            _log.Info($"{tagsOrigin} ignored: the secret is an auth key, which carries its own tags (chosen when the key was made); tags are advertised only with an OAuth client secret (TS_OAUTH_SECRET).");
        var binaries = TailscaleBinaries.LocateBoth(_environment);
        Hostname = DnsLabel.From(_settings.Hostname);
        if (Hostname != _settings.Hostname)
            _log.Info($"Tailnet host name \"{_settings.Hostname}\" made a valid DNS label: {Hostname}");

        var socket = _settings.Socket;
        if (socket is not null && Answers(socket))
            throw new SettingsException($"--ts-socket={socket}: another tailscaled already answers there. Give another path (or leave --ts-socket out for a private one), or use --tailnet=existing to use that daemon.");

        lock (_gate) _workDirectory = Directory.CreateTempSubdirectory("tailnet-");
        socket ??= Path.Join(_workDirectory.FullName, "tailscaled.sock");
        if (Path.GetDirectoryName(socket) is { Length: > 0 } socketDirectory) Directory.CreateDirectory(socketDirectory);
        Cli = new TailscaleCli(binaries.Cli, socket, _runner);

        var started = _time.GetTimestamp();
        await StartDaemonAsync(binaries.Daemon, socket, cancellationToken);

        var joinedAt = _time.GetUtcNow();
        await new TailnetRecord(Hostname, null, null, joinedAt).WriteAsync(RecordPath, cancellationToken);

        var retry = JoinRetry.Create(_settings.Retry.Attempts, _settings.Retry.Delay, _time, (attempt, delay, error) =>
            _log.Warn($"{error?.Message} (attempt {attempt} of {_settings.Retry.Attempts}; trying again in {delay.TotalSeconds:0.###}s)"));
        await retry.ExecuteAsync(async ct => await UpOnceAsync(key, ct), cancellationToken);

        var status = await WaitForRunningAsync(cancellationToken);
        TimeToRunning = _time.GetElapsedTime(started);
        Status = status;
        await new TailnetRecord(Hostname, status.Self?.ID, status.CurrentTailnet?.Name, joinedAt).WriteAsync(RecordPath, cancellationToken);
        var address = status.TailscaleIPs?.FirstOrDefault() ?? status.Self?.IPv4 ?? "?";
        _log.Info($"Joined tailnet {status.CurrentTailnet?.Name ?? "?"} as {Hostname} ({address}), ephemeral, {(AdvertisedTags.Count > 0 ? "tags " + string.Join(",", AdvertisedTags) : "the auth key's tags")}, Running {TimeToRunning.Value.TotalSeconds:0.00}s after starting tailscaled{(Socks5Proxy is null ? "" : $", userspace networking via SOCKS5 {Socks5Proxy.Host}:{Socks5Proxy.Port}")}.");
    }

    /// <summary>
    /// Starts tailscaled once. <c>auto</c> hands it the fallback list <c>--tun=tailscale0,userspace-networking</c>
    /// (its createEngine tries each in turn, so a missing /dev/net/tun and a missing CAP_NET_ADMIN both
    /// end in userspace) and reads the mode that won from the status's <c>TUN</c> field.
    /// </summary>
    private async Task StartDaemonAsync(string binary, string socket, CancellationToken cancellationToken)
    {
        var port = _settings.Port ?? (UdpPortFree(DefaultPort) ? DefaultPort : 0);
        var arguments = new List<string> { $"--socket={socket}", "--state=mem:", $"--port={port}", "--no-logs-no-support" };
        DnsEndPoint? socks = null;
        if (_settings.Tun != TunMode.Kernel)
        {
            arguments.Add(_settings.Tun == TunMode.Userspace ? $"--tun={UserspaceTun}" : $"--tun={KernelTun},{UserspaceTun}");
            // tailscaled serves SOCKS5 in either mode, so the port is asked for before it is known which mode wins.
            socks = new DnsEndPoint("127.0.0.1", FreeTcpPort());
            arguments.Add($"--socks5-server=127.0.0.1:{socks.Port}");
        }
        var daemon = TailscaleDaemon.Start(binary, arguments, _environment, DaemonLog, _redactor);
        lock (_gate) _daemon = daemon;
        _log.Detail($"Started tailscaled (pid {daemon.ProcessId}): {string.Join(' ', arguments)}");
        var status = await WaitForDaemonAsync(daemon, cancellationToken);
        if (status is null)
        {
            var tunError = daemon.TailContains("/dev/net/tun");
            var hint = !tunError ? ""
                : _settings.Tun == TunMode.Kernel
                    ? " tailscaled could not open /dev/net/tun (missing, or no CAP_NET_ADMIN): use --ts-tun=auto or --ts-tun=userspace, or give the container the TUN device and NET_ADMIN."
                    : " No TUN device and no userspace networking either: see the log below.";
            throw new PipelineException(
                $"tailscaled exited (code {daemon.ExitCode}) before it was ready.{hint} Last lines of {DaemonLog}:\n{daemon.Tail()}");
        }

        // TUN false is userspace networking: the OS has no route to the tailnet, only the SOCKS5 proxy does.
        // A status without the field (an old tailscaled) keeps the proxy, which reaches the tailnet in either mode.
        var userspace = socks is not null && status.TUN != true;
        Socks5Proxy = userspace ? socks : null;
        if (userspace && _settings.Tun == TunMode.Auto)
        {
            var why = daemon.LastLineContaining($"(tun \"{KernelTun}\") error") is { } line ? $" ({line.Trim()})" : "";
            _log.Warn($"tailscaled could not use a TUN device{why}: it runs in userspace networking mode; connections to the servers go through its SOCKS5 proxy.");
        }
    }

    /// <summary>
    /// Polls <c>status --json</c> until the daemon answers (the socket appearing first saves CLI
    /// runs); null when the daemon exited first, an error when <c>--ts-ready-timeout</c> passes.
    /// </summary>
    private async Task<TailnetStatus?> WaitForDaemonAsync(TailscaleDaemon daemon, CancellationToken cancellationToken)
    {
        var cli = Cli!;
        var started = _time.GetTimestamp();
        var lastAsked = started;
        // Looking for the socket file costs nothing, so look often: the CLI runs only once it is there.
        var pause = TimeSpan.FromMilliseconds(25);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (daemon.HasExited) return null;
            // Ask as soon as the socket appears, and every half second anyway (a daemon may not show its socket as a file).
            if (cli.Socket is null || File.Exists(cli.Socket) || _time.GetElapsedTime(lastAsked) >= TimeSpan.FromMilliseconds(500))
            {
                lastAsked = _time.GetTimestamp();
                var status = await cli.TryStatusAsync(_settings.ReadyTimeout, cancellationToken);
                if (status is not null) return status;
                if (daemon.HasExited) return null;
            }
            if (_time.GetElapsedTime(started) > _settings.ReadyTimeout)
                throw new PipelineException(
                    $"tailscaled did not answer on {cli.Socket} within --ts-ready-timeout ({_settings.ReadyTimeout.TotalSeconds:0.###}s). Last lines of {DaemonLog}:\n{daemon.Tail()}");
            await Task.WhenAny(Task.Delay(pause, _time, cancellationToken), daemon.Exited);
        }
    }

    private async Task UpOnceAsync(AuthKey key, CancellationToken cancellationToken)
    {
        var daemon = _daemon!;
        if (daemon.HasExited)
            throw new PipelineException($"tailscaled exited (code {daemon.ExitCode}). Last lines of {DaemonLog}:\n{daemon.Tail()}");
        var file = KeyFile.Write(_workDirectory!.FullName, key);
        lock (_gate) _keyFile = file;
        Processes.ProcessResult result;
        try
        {
            result = await Cli!.UpAsync(file, AdvertisedTags, Hostname!, _settings.Timeout, cancellationToken);
        }
        finally
        {
            // The key is on disk only while `up` reads it.
            file.Dispose();
            lock (_gate) _keyFile = null;
        }
        if (result.Succeeded) return;
        if (daemon.HasExited)
            throw new PipelineException($"tailscaled exited (code {daemon.ExitCode}) during `tailscale up`. Last lines of {DaemonLog}:\n{daemon.Tail()}");
        throw UpErrors.Classify(result.Output + "\n" + result.Error, result.ExitCode);
    }

    private async Task<TailnetStatus> WaitForRunningAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        while (true)
        {
            var status = await Cli!.StatusAsync(_settings.ReadyTimeout, cancellationToken);
            if (status.IsRunning) return status;
            if (status.BackendState == "NeedsMachineAuth")
                throw new SettingsException("The node joined but waits for approval (NeedsMachineAuth): the tailnet requires device approval. Use an OAuth client secret (the pipeline adds preauthorized=true) or a pre-approved auth key.");
            if (_time.GetElapsedTime(started) > _settings.ReadyTimeout)
                throw new PipelineException($"After `tailscale up` the backend state is {status.BackendState}, not Running, after {_settings.ReadyTimeout.TotalSeconds:0.###}s. Last lines of {DaemonLog}:\n{_daemon?.Tail()}");
            await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken);
        }
    }

    /// <summary>
    /// The deploy targets on the tailnet: peers carrying the deploy tags, then <c>--server</c>. With
    /// <c>--hosts</c> the tailnet is not asked (see <see cref="ServerSelection.FromHosts()"/>).
    /// Offline servers stay in the list marked unavailable.
    /// </summary>
    public async Task<IReadOnlyList<DeployTarget>> FindServersAsync(ServerSelection selection, CancellationToken cancellationToken)
    {
        if (Cli is null || Mode is TailnetMode.Off or null)
            throw new SettingsException("Without the tailnet (--tailnet=off) the servers must come from --hosts=name=address[:port],... (or DEPLOY_HOSTS).");
        var status = await Cli.StatusAsync(_settings.ReadyTimeout, cancellationToken);
        Status = status;
        if (!status.IsRunning)
            throw new PipelineException($"The tailnet is not connected (backend state {status.BackendState}).");
        return ServerSelection.RequireOnline(selection.FromStatus(status), message => _log.Warn(message));
    }

    /// <summary>
    /// Leaves what this session joined: <c>logout</c> (bounded; a failure is only a warning), then
    /// SIGTERM to the daemon, a bounded wait, SIGKILL only if needed; the key file is gone in every
    /// case. Idempotent; never touches an existing daemon. Uses its own bounds, not the (maybe
    /// already cancelled) pipeline token.
    /// </summary>
    public async Task LeaveAsync()
    {
        if (Interlocked.Exchange(ref _left, 1) == 1) return;
        TailscaleDaemon? daemon;
        DirectoryInfo? work;
        lock (_gate)
        {
            _keyFile?.Dispose();
            _keyFile = null;
            daemon = _daemon;
            work = _workDirectory;
        }
        try
        {
            if (daemon is null) return;
            if (!daemon.HasExited && Cli is not null)
            {
                try
                {
                    var result = await Cli.LogoutAsync(_leave.Logout, CancellationToken.None);
                    if (result.Succeeded) _log.Info($"Logged {Hostname} out of the tailnet.");
                    else _log.Warn($"tailscale logout failed (exit {result.ExitCode}): {result.Tail(3)}. Stopping the daemon anyway; an ephemeral node is removed once offline.");
                }
                catch (PipelineException e)
                {
                    _log.Warn($"tailscale logout: {e.Message} Stopping the daemon anyway; an ephemeral node is removed once offline.");
                }
            }
            var how = await daemon.StopAsync(_leave.TermGrace, _leave.KillWait);
            _log.Info($"tailscaled {how}.");
            daemon.Dispose();
        }
        finally
        {
            try
            {
                work?.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>True when something accepts connections on the unix socket.</summary>
    internal static bool Answers(string socket)
    {
        if (!File.Exists(socket)) return false;
        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            probe.Connect(new UnixDomainSocketEndPoint(socket));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static bool UdpPortFree(int port)
    {
        try
        {
            using var probe = new UdpClient(new IPEndPoint(IPAddress.Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreeTcpPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
