using Build.Processes;
using Build.Settings;

namespace Build.Sandbox;

/// <summary>Which target's needs to check.</summary>
public enum PrerequisiteSet { Sandbox, Test }

/// <summary>How this machine installs packages.</summary>
public enum PackageManager { None, Apt, Apk }

/// <summary>An OS tool and the package that brings it, on Debian (apt) and Alpine (apk).</summary>
public sealed record OsTool(string Command, string AptPackage, string ApkPackage, bool Optional = false, bool RootOnly = false);

/// <summary>What the checks look at: root or not, the PATH, the package manager.</summary>
public sealed record MachineFacts(bool IsRoot, string? Path, PackageManager Manager, bool HasSudo)
{
    /// <summary>sshd and nginx live in sbin, often not on a normal user's PATH.</summary>
    public static readonly IReadOnlyList<string> SbinDirectories = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

    public static MachineFacts Detect()
    {
        var path = Environment.GetEnvironmentVariable("PATH");
        var manager = ToolLocator.Find("apt-get", path, SbinDirectories) is not null ? PackageManager.Apt
            : ToolLocator.Find("apk", path, SbinDirectories) is not null ? PackageManager.Apk
            : PackageManager.None;
        return new MachineFacts(LoginAccount.RunningAsRoot, path, manager, ToolLocator.Find("sudo", path) is not null);
    }

    /// <summary>Searched after PATH; tests set none so that only their PATH counts.</summary>
    public IReadOnlyList<string> ExtraDirectories { get; init; } = SbinDirectories;

    public string? Find(string tool) => ToolLocator.Find(tool, Path, ExtraDirectories);
}

/// <summary>
/// Checks for the OS tools and the login account that the sandbox or the tests need. As root with
/// apt-get (after apt-get update) or apk it installs what is missing and creates the account, printing
/// each command before it runs; otherwise it stops with exit code 2 and the exact commands to run.
/// </summary>
public sealed class Prerequisites(IProcessRunner processes, MachineFacts machine, Action<string> log)
{
    public static readonly IReadOnlyList<OsTool> SandboxTools =
    [
        new("sshd", "openssh-server", "openssh-server"),
        new("ssh-keygen", "openssh-client", "openssh-keygen"),
        new("nginx", "nginx", "nginx"),
        new("setsid", "util-linux", "util-linux-misc"),
        // As root, nginx is started as the login account.
        new("setpriv", "util-linux", "setpriv", RootOnly: true),
    ];

    public static readonly IReadOnlyList<OsTool> TestTools =
    [
        .. SandboxTools,
        new("rsync", "rsync", "rsync"),
        new("busybox", "busybox", "busybox"),
        // The deploy uploads zstd frames to a server that has zstd: the tests run it as their servers' decoder.
        new("zstd", "zstd", "zstd"),
        new("chromium", "chromium", "chromium"),
        // Without it the NixOS module's tests are skipped.
        new("nix-instantiate", "nix-bin", "nix", Optional: true),
    ];

    public static IReadOnlyList<OsTool> ToolsFor(PrerequisiteSet set) => set == PrerequisiteSet.Test ? TestTools : SandboxTools;

    /// <summary>Checks, and installs as root; throws <see cref="SettingsException"/> (exit 2) with the commands otherwise.</summary>
    public async Task EnsureAsync(PrerequisiteSet set, CancellationToken cancellationToken)
    {
        var missing = Missing(set);
        var account = machine.IsRoot ? await AccountProblemAsync(cancellationToken) : AccountState.Ready;
        var required = missing.Where(t => !t.Optional).ToList();
        var optional = missing.Where(t => t.Optional).ToList();
        if (required.Count == 0 && account == AccountState.Ready && (optional.Count == 0 || !CanInstall))
        {
            foreach (var tool in optional) log($"Note: {tool.Command} is not installed; the tests that need it are skipped ({Install(optional, sudo: !machine.IsRoot)}).");
            return;
        }

        var plan = Plan(required, account);
        if (!CanInstall)
        {
            if (required.Count == 0 && account == AccountState.Ready) return;
            var what = string.Join(", ", required.Select(t => t.Command).Concat(account != AccountState.Ready ? [$"the account {LoginAccount.TestUser}"] : []));
            var how = machine.Manager == PackageManager.None
                ? $"Install them with this system's package manager (Debian: {Install(required, !machine.IsRoot)}; Alpine: the packages {string.Join(' ', required.Select(t => t.ApkPackage).Distinct())})."
                : $"Run as root:\n  {string.Join("\n  ", plan.Select(c => Sudo(c)))}";
            throw new SettingsException($"{set} needs {what}, which this machine lacks. {how}");
        }

        foreach (var command in plan) await RunAsync(command, cancellationToken);
        if (optional.Count > 0)
        {
            // Optional: a package this distribution lacks is a note, never a failure.
            try
            {
                if (machine.Manager == PackageManager.Apt && !plan.Any(c => c is ["apt-get", "update"])) await RunAsync(["apt-get", "update"], cancellationToken);
                await RunAsync(InstallCommand(optional), cancellationToken);
            }
            catch (PipelineException e) { log($"Note: could not install {string.Join(", ", optional.Select(t => t.Command))} ({e.Message}); the tests that need it are skipped."); }
        }

        if (Missing(set).Where(t => !t.Optional).Select(t => t.Command).ToList() is { Count: > 0 } still)
            throw new PipelineException($"Installed the packages, but {string.Join(", ", still)} is still not found on PATH or in /usr/sbin.");
    }

    private bool CanInstall => machine.IsRoot && machine.Manager != PackageManager.None;

    public IReadOnlyList<OsTool> Missing(PrerequisiteSet set) =>
        ToolsFor(set).Where(t => (machine.IsRoot || !t.RootOnly) && machine.Find(t.Command) is null).ToList();

    private enum AccountState { Ready, Missing, Locked }

    private async Task<AccountState> AccountProblemAsync(CancellationToken cancellationToken)
    {
        if (await LoginAccount.LookUpAsync(processes, LoginAccount.TestUser, cancellationToken) is null) return AccountState.Missing;
        return await LoginAccount.IsLockedAsync(processes, LoginAccount.TestUser, cancellationToken) ? AccountState.Locked : AccountState.Ready;
    }

    /// <summary>The commands, in order: update the package index, install, create and unlock the account.</summary>
    private List<IReadOnlyList<string>> Plan(IReadOnlyList<OsTool> tools, AccountState account)
    {
        var plan = new List<IReadOnlyList<string>>();
        var user = LoginAccount.TestUser;
        var packages = tools.ToList();
        // Alpine's usermod (to unlock the account) comes with shadow.
        var needsShadow = machine.Manager == PackageManager.Apk && account != AccountState.Ready && machine.Find("usermod") is null;
        if (packages.Count > 0 || needsShadow)
        {
            if (machine.Manager == PackageManager.Apt) plan.Add(["apt-get", "update"]);
            plan.Add(InstallCommand(packages, needsShadow ? ["shadow"] : []));
        }
        if (account == AccountState.Missing)
        {
            plan.Add(machine.Manager == PackageManager.Apk
                ? ["adduser", "-D", "-s", "/bin/sh", user]
                : ["useradd", "--create-home", "--shell", "/bin/sh", user]);
        }
        // A new account is locked ("!" in /etc/shadow), which sshd without PAM refuses; "*" means no password, not locked.
        if (account != AccountState.Ready) plan.Add(["usermod", "-p", "*", user]);
        return plan;
    }

    private IReadOnlyList<string> InstallCommand(IReadOnlyList<OsTool> tools, IReadOnlyList<string>? extra = null)
    {
        var packages = tools.Select(t => machine.Manager == PackageManager.Apk ? t.ApkPackage : t.AptPackage).Concat(extra ?? []).Distinct().ToList();
        return machine.Manager == PackageManager.Apk
            ? ["apk", "add", "--no-cache", .. packages]
            : ["apt-get", "install", "-y", "--no-install-recommends", .. packages];
    }

    private string Install(IReadOnlyList<OsTool> tools, bool sudo)
    {
        var apt = machine.Manager != PackageManager.Apk;
        var line = apt
            ? $"apt-get update && {(sudo ? "sudo " : "")}apt-get install -y {string.Join(' ', tools.Select(t => t.AptPackage).Distinct())}"
            : $"apk add {string.Join(' ', tools.Select(t => t.ApkPackage).Distinct())}";
        return (sudo ? "sudo " : "") + line;
    }

    private string Sudo(IReadOnlyList<string> command) => (machine.IsRoot ? "" : "sudo ") + Quote(command);

    private static string Quote(IReadOnlyList<string> command) => new ProcessSpec(command[0], command.Skip(1).ToList()).ToString();

    private async Task RunAsync(IReadOnlyList<string> command, CancellationToken cancellationToken)
    {
        log($"+ {Quote(command)}");
        var spec = new ProcessSpec(command[0], command.Skip(1).ToList())
        {
            Environment = new Dictionary<string, string?> { ["DEBIAN_FRONTEND"] = "noninteractive" },
            Timeout = TimeSpan.FromMinutes(20),
            OnLine = line => log("  " + line),
        };
        var result = await processes.RunAsync(spec, cancellationToken);
        if (!result.Succeeded)
            throw new PipelineException($"{Quote(command)} failed with exit code {result.ExitCode}:\n{result.Tail()}");
    }
}
