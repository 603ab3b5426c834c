using Build.Processes;

namespace Build.Docker;

/// <summary>A docker command that failed: its exit code and the tail of its output.</summary>
public sealed class DockerCommandException(string message, int dockerExitCode) : PipelineException(message)
{
    public int DockerExitCode { get; } = dockerExitCode;
}

/// <summary>
/// The docker CLI, driven with settings classes (<see cref="DockerSettings"/>); what the aliases
/// (<see cref="DockerAliases"/>) run. Every command is printed before it runs; secrets reach docker only
/// through stdin. A failed command throws a <see cref="DockerCommandException"/> carrying the tail of
/// docker's output.
/// </summary>
public sealed class DockerClient(IProcessRunner processes, string docker, Action<string> log)
{
    /// <summary>A client for the <c>docker</c> found on <paramref name="path"/> (a PATH value).</summary>
    public static DockerClient FromPath(IProcessRunner processes, string? path, Action<string> log) =>
        new(processes, ToolLocator.Find("docker", path)
            ?? throw new PipelineException("docker is not on PATH. Install the Docker CLI (the ci-image job installs docker-cli) or run this target in the ci-image job."),
            log);

    public string Executable => docker;

    public Task BuildAsync(DockerImageBuildSettings settings, string path, CancellationToken cancellationToken) =>
        RunCheckedAsync(["build", .. settings.ToArguments(), path], null, cancellationToken);

    public Task TagAsync(DockerImageTagSettings settings, string source, string target, CancellationToken cancellationToken) =>
        RunCheckedAsync(["tag", .. settings.ToArguments(), source, target], null, cancellationToken);

    public Task LoginAsync(DockerRegistryLoginSettings settings, string? server, CancellationToken cancellationToken)
    {
        if (settings.Password is not null)
            throw new ArgumentException("DockerRegistryLoginSettings.Password is never put on docker's command line (every process could read it): use DockerLoginWithPasswordStdin.", nameof(settings));
        return RunCheckedAsync(["login", .. settings.ToArguments(), .. Optional(server)], null, cancellationToken);
    }

    /// <summary><c>docker login --username USER --password-stdin [SERVER]</c> with the password written to its stdin.</summary>
    public Task LoginWithPasswordStdinAsync(string username, string password, string? server, CancellationToken cancellationToken) =>
        RunCheckedAsync(["login", .. new DockerRegistryLoginSettings { Username = username, PasswordStdin = true }.ToArguments(), .. Optional(server)],
            password + "\n", cancellationToken);

    public Task LogoutAsync(DockerRegistryLogoutSettings settings, string? server, CancellationToken cancellationToken) =>
        RunCheckedAsync(["logout", .. settings.ToArguments(), .. Optional(server)], null, cancellationToken);

    public Task PushAsync(DockerImagePushSettings settings, string image, CancellationToken cancellationToken) =>
        RunCheckedAsync(["push", .. settings.ToArguments(), image], null, cancellationToken);

    /// <summary><c>docker manifest inspect</c>: throws <see cref="DockerCommandException"/> when the registry has no such manifest.</summary>
    public Task ManifestInspectAsync(DockerManifestInspectSettings settings, string? manifestList, string manifest, CancellationToken cancellationToken) =>
        RunCheckedAsync(["manifest", "inspect", .. settings.ToArguments(), .. Optional(manifestList), manifest], null, cancellationToken, echo: false);

    private async Task RunCheckedAsync(IReadOnlyList<string> args, string? stdin, CancellationToken cancellationToken, bool echo = true)
    {
        cancellationToken.ThrowIfCancellationRequested();
        log("> " + new ProcessSpec("docker", args));
        var result = await processes.RunAsync(new ProcessSpec(docker, args) { StandardInput = stdin, OnLine = echo ? log : null }, cancellationToken);
        if (!result.Succeeded)
            throw new DockerCommandException($"docker {(args[0] == "manifest" ? "manifest " + args[1] : args[0])} failed (exit code {result.ExitCode}):\n{result.Tail()}", result.ExitCode);
    }

    private static string[] Optional(string? value) => string.IsNullOrEmpty(value) ? [] : [value];
}
