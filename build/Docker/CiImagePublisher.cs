using System.Security.Cryptography;
using System.Text;
using Build.Settings;
using Cake.Core;

namespace Build.Docker;

public enum CiImageOutcome { AlreadyPublished, Published }

/// <summary>
/// Builds and pushes the CI image (build/ci.Dockerfile), tagged with a hash of the Dockerfile, and
/// does nothing when the registry already has that tag. .gitlab-ci.yml names the same tag. Every
/// docker command goes through the Docker aliases.
/// </summary>
public sealed class CiImagePublisher(ICakeContext context, Action<string> log)
{
    /// <summary>Length of the tag: 12 hex digits of the SHA-256 (48 bits, as short as git's abbreviations and as safe).</summary>
    public const int TagLength = 12;

    /// <summary>The tag for a Dockerfile's text: line endings normalized, so a Windows checkout hashes the same.</summary>
    public static string TagOf(string dockerfileText)
    {
        var normalized = dockerfileText.ReplaceLineEndings("\n");
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(normalized));
        return Convert.ToHexStringLower(hash)[..TagLength];
    }

    public static string TagOfFile(string dockerfile) => TagOf(File.ReadAllText(dockerfile));

    public CiImageOutcome Publish(CiImageSettings settings, string dockerfile)
    {
        if (!File.Exists(dockerfile))
            throw new SettingsException($"{dockerfile} does not exist: the CI image is built from it.");
        var tag = TagOfFile(dockerfile);
        var image = $"{settings.Repository}:{tag}";
        var latest = $"{settings.Repository}:latest";
        log($"CI image: {image} (tag = first {TagLength} hex digits of the SHA-256 of {Path.GetFileName(dockerfile)})");

        var loggedIn = false;
        if (settings.Password is not null)
        {
            context.DockerLoginWithPasswordStdin(settings.User!, settings.Password, settings.Registry);
            loggedIn = true;
        }
        try
        {
            try
            {
                context.DockerManifestInspect(image);
                log($"{image} is already in the registry: nothing to build.");
                return CiImageOutcome.AlreadyPublished;
            }
            catch (DockerCommandException e)
            {
                log($"{image} is not in the registry ({LastLine(e.Message)}): building it.");
            }

            // The image needs no file of the repository: an empty build context keeps the upload to the daemon at zero.
            var buildContext = Directory.CreateTempSubdirectory("ci-image-context-");
            try
            {
                context.DockerBuild(new DockerImageBuildSettings
                {
                    File = Path.GetFullPath(dockerfile),
                    Tag = [image],
                    Label = [$"org.opencontainers.image.version={tag}"],
                    Pull = true,
                }, buildContext.FullName);
            }
            finally
            {
                buildContext.Delete(recursive: true);
            }
            context.DockerTag(image, latest);
            context.DockerPush(image);
            context.DockerPush(latest);
            log($"Pushed {image} (and {latest}).");
            return CiImageOutcome.Published;
        }
        finally
        {
            // docker login stores the credential in ~/.docker/config.json: leave nothing behind.
            if (loggedIn)
            {
                try
                {
                    context.DockerLogout(settings.Registry);
                }
                catch (PipelineException e)
                {
                    log($"Warning: {e.Message}");
                }
            }
        }
    }

    private static string LastLine(string text)
    {
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
        return line.Length == 0 ? "no answer" : line;
    }
}
