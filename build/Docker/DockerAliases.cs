using Build.Output;
using Build.Processes;
using Cake.Core;
using Cake.Core.Diagnostics;

namespace Build.Docker;

/// <summary>
/// What the Docker aliases run on: the pipeline's <see cref="BuildContext"/> gives its process runner
/// (output redacted, secret variables scrubbed) and its cancellation token.
/// </summary>
public interface IDockerHost
{
    DockerClient Docker { get; }

    CancellationToken CancellationToken { get; }
}

/// <summary>
/// Docker aliases with Cake.Docker's names and shapes: synchronous extension methods on
/// <see cref="ICakeContext"/>, the package's settings classes, the settings before the image. A failed
/// command throws (<see cref="DockerCommandException"/>), as the package's runner does. On the
/// pipeline's context they run through its process runner and stop on a signal; on any other context,
/// through a runner of their own.
/// </summary>
public static class DockerAliases
{
    public static void DockerBuild(this ICakeContext context, string path) => context.DockerBuild(null, path);

    public static void DockerBuild(this ICakeContext context, DockerImageBuildSettings? settings, string path) =>
        Run(context, (docker, ct) => docker.BuildAsync(settings ?? new DockerImageBuildSettings(), path, ct));

    public static void DockerTag(this ICakeContext context, string imageReference, string registryReference) =>
        Run(context, (docker, ct) => docker.TagAsync(new DockerImageTagSettings(), imageReference, registryReference, ct));

    public static void DockerPush(this ICakeContext context, string imageReference) => context.DockerPush(null, imageReference);

    public static void DockerPush(this ICakeContext context, DockerImagePushSettings? settings, string imageReference) =>
        Run(context, (docker, ct) => docker.PushAsync(settings ?? new DockerImagePushSettings(), imageReference, ct));

    /// <summary>As the package's, except that a <see cref="DockerRegistryLoginSettings.Password"/> is refused (see below).</summary>
    public static void DockerLogin(this ICakeContext context, DockerRegistryLoginSettings settings, string? server = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Run(context, (docker, ct) => docker.LoginAsync(settings, server, ct));
    }

    /// <summary>
    /// Not in Cake.Docker: its <c>DockerLogin</c> puts the password on docker's command line, where any
    /// process can read it; this one writes it to docker's stdin (<c>--password-stdin</c>).
    /// </summary>
    public static void DockerLoginWithPasswordStdin(this ICakeContext context, string username, string password, string? server = null) =>
        Run(context, (docker, ct) => docker.LoginWithPasswordStdinAsync(username, password, server, ct));

    public static void DockerLogout(this ICakeContext context, string? server = null) => context.DockerLogout(null, server);

    public static void DockerLogout(this ICakeContext context, DockerRegistryLogoutSettings? settings, string? server = null) =>
        // Cleanup of a stored credential: it runs even after a signal (docker logout only edits a local file).
        Run(context, (docker, _) => docker.LogoutAsync(settings ?? new DockerRegistryLogoutSettings(), server, CancellationToken.None));

    public static void DockerManifestInspect(this ICakeContext context, string manifest) => context.DockerManifestInspect(null, null, manifest);

    public static void DockerManifestInspect(this ICakeContext context, string manifestList, string manifest) =>
        context.DockerManifestInspect(null, manifestList, manifest);

    /// <summary>Throws <see cref="DockerCommandException"/> when the registry has no such manifest.</summary>
    public static void DockerManifestInspect(this ICakeContext context, DockerManifestInspectSettings? settings, string? manifestList, string manifest) =>
        Run(context, (docker, ct) => docker.ManifestInspectAsync(settings ?? new DockerManifestInspectSettings(), manifestList, manifest, ct));

    private static void Run(ICakeContext context, Func<DockerClient, CancellationToken, Task> command)
    {
        ArgumentNullException.ThrowIfNull(context);
        var (docker, token) = context is IDockerHost host
            ? (host.Docker, host.CancellationToken)
            : (DockerClient.FromPath(new ProcessRunner(Redactor.FromEnvironment(Environment.GetEnvironmentVariable)),
                context.Environment.GetEnvironmentVariable("PATH"), line => context.Log.Information("{0}", line)), CancellationToken.None);
        command(docker, token).GetAwaiter().GetResult();
    }
}
