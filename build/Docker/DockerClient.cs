using Build.Processes;

namespace Build.Docker;

/// <summary>
/// The docker CLI, driven with settings classes (<see cref="DockerSettings"/>). Every command is
/// printed before it runs; secrets reach docker only through stdin. A failed command throws a
/// <see cref="PipelineException"/> carrying the tail of docker's output, except
/// <see cref="ManifestInspectAsync"/>, whose failure is an answer ("not in the registry").
/// </summary>
public sealed class DockerClient(IProcessRunner processes, string docker, Action<string> log)
{
    /// <summary>A client for the <c>docker</c> found on <paramref name="path"/> (a PATH value).</summary>
    public static DockerClient FromPath(IProcessRunner processes, string? path, Action<string> log) =>
        new(processes, ToolLocator.Find("docker", path)
            ?? throw new PipelineException("docker is not on PATH. Install the Docker CLI (the ci-image job installs docker-cli) or run this target in the ci-image job."),
            log);

    public string Executable => docker;

    public async Task BuildAsync(DockerBuildSettings settings, string path, CancellationToken cancellationToken) =>
        await RunCheckedAsync(["build", .. settings.ToArguments(), path], null, cancellationToken);

    public async Task TagAsync(string source, string target, CancellationToken cancellationToken) =>
        await RunCheckedAsync(["tag", source, target], null, cancellationToken);

    public async Task LoginAsync(DockerLoginSettings settings, string? server, CancellationToken cancellationToken)
    {
        string[] args = ["login", .. settings.ToArguments(), .. Optional(server)];
        await RunCheckedAsync(args, settings.Password is { } password ? password + "\n" : null, cancellationToken);
    }

    public async Task LogoutAsync(string? server, CancellationToken cancellationToken) =>
        await RunCheckedAsync(["logout", .. Optional(server)], null, cancellationToken);

    public async Task PushAsync(DockerPushSettings settings, string image, CancellationToken cancellationToken) =>
        await RunCheckedAsync(["push", .. settings.ToArguments(), image], null, cancellationToken);

    /// <summary><c>docker manifest inspect</c>: the result tells whether the registry has the image.</summary>
    public Task<ProcessResult> ManifestInspectAsync(DockerManifestInspectSettings settings, string image, CancellationToken cancellationToken) =>
        RunAsync(["manifest", "inspect", .. settings.ToArguments(), image], null, echo: false, cancellationToken);

    private async Task RunCheckedAsync(IReadOnlyList<string> args, string? stdin, CancellationToken cancellationToken)
    {
        var result = await RunAsync(args, stdin, echo: true, cancellationToken);
        if (!result.Succeeded)
            throw new PipelineException($"docker {args[0]} failed (exit code {result.ExitCode}):\n{result.Tail()}");
    }

    private Task<ProcessResult> RunAsync(IReadOnlyList<string> args, string? stdin, bool echo, CancellationToken cancellationToken)
    {
        var spec = new ProcessSpec(docker, args)
        {
            StandardInput = stdin,
            OnLine = echo ? log : null,
        };
        log("> " + new ProcessSpec("docker", args));
        return processes.RunAsync(spec, cancellationToken);
    }

    private static string[] Optional(string? value) => string.IsNullOrEmpty(value) ? [] : [value];
}
