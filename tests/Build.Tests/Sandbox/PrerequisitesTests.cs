using Build.Processes;
using Build.Sandbox;
using Build.Settings;
using Build.Tests.Support;

namespace Build.Tests.Sandbox;

/// <summary>The OS prerequisite check: what it finds missing, what it runs as root (in order, each printed), what it tells a normal user.</summary>
public sealed class PrerequisitesTests : IDisposable
{
    private readonly TempDir _bin = new("prereq-bin");
    private readonly List<string> _log = [];

    public void Dispose() => _bin.Dispose();

    /// <summary>A PATH holding only the named tools (empty executables).</summary>
    private string PathWith(params string[] tools)
    {
        foreach (var tool in tools)
        {
            var file = _bin.File(tool, "#!/bin/sh\n");
            File.SetUnixFileMode(file, (UnixFileMode)0b111_101_101);
        }
        return _bin.Path;
    }

    /// <summary>Records every command; getent answers as if the account existed (or not), unlocked.</summary>
    private sealed class FakeRunner(bool accountExists, string? shadowPassword = "*") : IProcessRunner
    {
        public List<string> Commands { get; } = [];

        public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
        {
            if (spec.FileName == "getent")
            {
                return Task.FromResult(spec.Arguments[0] == "passwd"
                    ? accountExists ? new ProcessResult(0, "deploytest:x:1001:1001::/home/deploytest:/bin/sh\n", "") : new ProcessResult(2, "", "")
                    : new ProcessResult(0, $"deploytest:{shadowPassword}:20000:0:99999:7:::\n", ""));
            }
            Commands.Add(spec.ToString());
            return Task.FromResult(new ProcessResult(0, "", ""));
        }
    }

    private static readonly string[] SandboxTools = ["sshd", "ssh-keygen", "nginx", "setsid", "setpriv"];
    private static readonly string[] AllTools = [.. SandboxTools, "rsync", "busybox", "zstd", "chromium", "nix-instantiate"];

    [Fact]
    public async Task Nothing_is_run_when_every_tool_and_the_account_are_there()
    {
        var runner = new FakeRunner(accountExists: true);
        await new Prerequisites(runner, new MachineFacts(IsRoot: true, PathWith(AllTools), PackageManager.Apt, HasSudo: false) { ExtraDirectories = [] }, _log.Add)
            .EnsureAsync(PrerequisiteSet.Test, CancellationToken.None);
        Assert.Empty(runner.Commands);
    }

    [Fact]
    public async Task As_root_with_apt_it_updates_then_installs_what_is_missing_and_creates_an_unlocked_account_printing_each_command()
    {
        var runner = new FakeRunner(accountExists: false);
        // Nothing is really installed by the fake: the check afterwards still misses the tools.
        var facts = new MachineFacts(IsRoot: true, PathWith("ssh-keygen", "setsid", "setpriv", "nix-instantiate"), PackageManager.Apt, HasSudo: false) { ExtraDirectories = [] };
        var failure = await Assert.ThrowsAsync<PipelineException>(() =>
            new Prerequisites(runner, facts, _log.Add).EnsureAsync(PrerequisiteSet.Test, CancellationToken.None));
        Assert.Contains("still not found", failure.Message);

        Assert.Equal(
        [
            "apt-get update",
            "apt-get install -y --no-install-recommends openssh-server nginx rsync busybox zstd chromium",
            "useradd --create-home --shell /bin/sh deploytest",
            "usermod -p '*' deploytest",
        ], runner.Commands);
        Assert.Equal(runner.Commands.Select(c => "+ " + c), _log.Where(l => l.StartsWith("+ ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task As_root_a_locked_account_is_unlocked_and_with_apk_the_packages_are_Alpines()
    {
        var runner = new FakeRunner(accountExists: true, shadowPassword: "!");
        var facts = new MachineFacts(IsRoot: true, PathWith("ssh-keygen", "setsid", "setpriv", "nginx"), PackageManager.Apk, HasSudo: false) { ExtraDirectories = [] };
        await Assert.ThrowsAsync<PipelineException>(() => new Prerequisites(runner, facts, _log.Add).EnsureAsync(PrerequisiteSet.Sandbox, CancellationToken.None));
        Assert.Equal(["apk add --no-cache openssh-server shadow", "usermod -p '*' deploytest"], runner.Commands);
    }

    [Fact]
    public async Task Not_root_and_sshd_missing_exits_2_with_the_install_command_and_runs_nothing()
    {
        var runner = new FakeRunner(accountExists: false);
        var facts = new MachineFacts(IsRoot: false, PathWith("ssh-keygen", "setsid", "nginx"), PackageManager.Apt, HasSudo: true) { ExtraDirectories = [] };
        var failure = await Assert.ThrowsAsync<SettingsException>(() =>
            new Prerequisites(runner, facts, _log.Add).EnsureAsync(PrerequisiteSet.Sandbox, CancellationToken.None));
        Assert.Contains("Sandbox needs sshd", failure.Message);
        Assert.Contains("sudo apt-get update", failure.Message);
        Assert.Contains("sudo apt-get install -y --no-install-recommends openssh-server", failure.Message);
        Assert.DoesNotContain("useradd", failure.Message); // a normal user's sandbox logs in as that user
        Assert.Empty(runner.Commands);
    }

    [Fact]
    public async Task A_missing_optional_tool_is_only_a_note_for_a_normal_user()
    {
        var runner = new FakeRunner(accountExists: false);
        var facts = new MachineFacts(IsRoot: false, PathWith(AllTools.Where(t => t != "nix-instantiate").ToArray()), PackageManager.Apt, HasSudo: true) { ExtraDirectories = [] };
        await new Prerequisites(runner, facts, _log.Add).EnsureAsync(PrerequisiteSet.Test, CancellationToken.None);
        Assert.Empty(runner.Commands);
        Assert.Contains(_log, l => l.Contains("nix-instantiate is not installed", StringComparison.Ordinal));
    }
}
