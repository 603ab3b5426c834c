using Build.Processes;
using Cake.Common.Diagnostics;

namespace Build.Sandbox;

/// <summary>What the Sandbox, SandboxStop and Clean targets and Test's prerequisite check do, over the pipeline's context.</summary>
public sealed class SandboxTargets(BuildContext context)
{
    private readonly TimeProvider _time = TimeProvider.System;

    private void Say(string line) => context.Information("{0}", line);

    private LocalSandbox Sandbox() => new(context.Root, context.Processes, Say, _time);

    /// <summary>Checks (as root: installs) the OS tools and the account <paramref name="set"/> needs.</summary>
    public Task EnsurePrerequisitesAsync(PrerequisiteSet set) =>
        new Prerequisites(context.Processes, MachineFacts.Detect(), Say).EnsureAsync(set, context.CancellationToken);

    /// <summary>Starts the sandbox's servers (or reuses the running ones) and points the settings at them.</summary>
    public async Task<SandboxState> StartServersAsync()
    {
        if (!OperatingSystem.IsLinux())
            throw new Settings.SettingsException("The sandbox runs on Linux (it uses setsid and /proc to run and find its daemons).");
        await EnsurePrerequisitesAsync(PrerequisiteSet.Sandbox);
        var machine = MachineFacts.Detect();
        var account = machine.IsRoot
            ? await LoginAccount.LookUpAsync(context.Processes, LoginAccount.TestUser, context.CancellationToken)
              ?? throw new PipelineException($"The account {LoginAccount.TestUser} was not found after creating it.")
            : LoginAccount.Current();
        var (state, reused) = await Sandbox().StartAsync(account, machine, context.CancellationToken);
        Say(reused
            ? $"Reusing the running sandbox: {string.Join(", ", state.Servers.Select(s => $"{s.Name} (ssh {s.SshPort}, http {s.HttpPort})"))}."
            : $"Started the sandbox as {state.User}: {string.Join(", ", state.Servers.Select(s => $"{s.Name} (ssh {s.SshPort}, http {s.HttpPort})"))}; logs in {SandboxLayout.FolderName}/*.log.");
        context.UseSandbox(state);
        return state;
    }

    /// <summary>Prints each server's URL, the release it serves, and how to stop.</summary>
    public void PrintSummary()
    {
        var state = Sandbox().Running() ?? throw new PipelineException("The sandbox stopped during the deploy: see .sandbox/*.log.");
        var key = Path.GetRelativePath(context.Root, state.DeployKey);
        Console.WriteLine();
        Console.WriteLine("The blog is deployed to the local sandbox:");
        foreach (var server in state.Servers)
        {
            Console.WriteLine($"  {server.Name}  {server.Url}   serves release {ServedRelease(server) ?? "(none)"}");
            Console.WriteLine($"           ssh -i {key} -p {server.SshPort} {state.User}@{server.Address}   (root {server.RemoteRoot})");
        }
        Console.WriteLine("Open a URL in a browser. Change a post and run ./build.sh --target=Sandbox again to deploy the delta;");
        Console.WriteLine("--sandbox points Deploy, Rollback, Releases, Unlock and FindServers at these servers.");
        Console.WriteLine("Stop: ./build.sh --target=SandboxStop   (Clean stops it too and removes .sandbox/)");
    }

    /// <summary>The release <c>current</c> points at, read from the remote root on this machine.</summary>
    public static string? ServedRelease(SandboxServer server)
    {
        var target = new FileInfo(Path.Join(server.RemoteRoot, "current")).LinkTarget;
        return target is null ? null : Path.GetFileName(target.TrimEnd('/'));
    }

    public Task StopAsync() => Sandbox().StopAsync(context.CancellationToken);

    /// <summary>Stops the sandbox and deletes its files (<c>.sandbox/</c>, and the account's folder when it lives elsewhere).</summary>
    public async Task CleanAsync()
    {
        var sandbox = Sandbox();
        var state = SandboxState.Load(sandbox.StateFile);
        if (!Directory.Exists(sandbox.Directory)) return;
        await sandbox.StopAsync(context.CancellationToken);
        if (state is not null && Directory.Exists(state.UserArea) && !IsUnder(state.UserArea, sandbox.Directory))
            Directory.Delete(state.UserArea, recursive: true);
        Directory.Delete(sandbox.Directory, recursive: true);
        Say($"Removed {sandbox.Directory}.");
    }

    /// <summary><paramref name="path"/> is <paramref name="directory"/> or inside it.</summary>
    private static bool IsUnder(string path, string directory) =>
        (Path.GetFullPath(path).TrimEnd('/') + "/").StartsWith(Path.GetFullPath(directory).TrimEnd('/') + "/", StringComparison.Ordinal);
}
