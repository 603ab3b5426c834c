using Build.Settings;

namespace Build.Docker;

/// <summary>Where the CI image goes, from GitLab's predefined registry variables.</summary>
public sealed record CiImageSettings(string Repository, string? Registry, string? User, string? Password)
    : ISettingsGroup<CiImageSettings>
{
    public static CiImageSettings From(SettingsSource source) => Resolve(source.Environment);

    public static CiImageSettings Resolve(Func<string, string?> environment)
    {
        var image = environment("CI_REGISTRY_IMAGE");
        if (string.IsNullOrWhiteSpace(image))
            throw new SettingsException("CI_REGISTRY_IMAGE is not set. The CiImage target pushes to the project's container registry: run it in the ci-image job, or set CI_REGISTRY_IMAGE (e.g. registry.example.com/group/blog) and log in with docker yourself.");
        var user = NullIfEmpty(environment("CI_REGISTRY_USER"));
        var password = NullIfEmpty(environment("CI_REGISTRY_PASSWORD"));
        if (password is not null && user is null)
            throw new SettingsException("CI_REGISTRY_PASSWORD is set but CI_REGISTRY_USER is not. Set both (GitLab sets them in every job when the container registry is enabled), or neither to use an existing docker login.");
        return new CiImageSettings(image.Trim().TrimEnd('/') + "/ci", NullIfEmpty(environment("CI_REGISTRY")), user, password);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
