using Cake.Common.Diagnostics;

namespace Build.Docker;

/// <summary>
/// Docker aliases on the build context, named as in Cake.Docker (<c>DockerBuild</c>,
/// <c>DockerTag</c>, <c>DockerLogin</c>, <c>DockerPush</c>, <c>DockerManifestInspect</c>), async
/// and cancellable. They run the <c>docker</c> found on PATH through the context's process runner
/// (secret variables scrubbed from docker's environment, output redacted).
/// </summary>
public static class DockerAliases
{
    public static DockerClient Docker(this BuildContext context) =>
        DockerClient.FromPath(context.Processes, Environment.GetEnvironmentVariable("PATH"), line => context.Information("{0}", line));

    public static Task DockerBuildAsync(this BuildContext context, DockerBuildSettings settings, string path) =>
        context.Docker().BuildAsync(settings, path, context.CancellationToken);

    public static Task DockerTagAsync(this BuildContext context, string source, string target) =>
        context.Docker().TagAsync(source, target, context.CancellationToken);

    public static Task DockerLoginAsync(this BuildContext context, DockerLoginSettings settings, string? server = null) =>
        context.Docker().LoginAsync(settings, server, context.CancellationToken);

    public static Task DockerLogoutAsync(this BuildContext context, string? server = null) =>
        context.Docker().LogoutAsync(server, context.CancellationToken);

    public static Task DockerPushAsync(this BuildContext context, string image, DockerPushSettings? settings = null) =>
        context.Docker().PushAsync(settings ?? new DockerPushSettings(), image, context.CancellationToken);

    /// <summary>True when the registry has <paramref name="image"/>.</summary>
    public static async Task<bool> DockerManifestInspectAsync(this BuildContext context, string image, DockerManifestInspectSettings? settings = null) =>
        (await context.Docker().ManifestInspectAsync(settings ?? new DockerManifestInspectSettings(), image, context.CancellationToken)).Succeeded;
}
