using Build.Docker;

namespace Build.Tests.Docker;

public sealed class DockerSettingsTests
{
    [Fact]
    public void Build_settings_become_options_in_declaration_order()
    {
        var settings = new DockerImageBuildSettings
        {
            File = "build/ci.Dockerfile",
            Tag = ["registry.example.com/g/blog/ci:abc", "registry.example.com/g/blog/ci:latest"],
            BuildArg = ["A=1"],
            Label = ["k=v"],
            Pull = true,
            NoCache = false,
            Platform = "linux/amd64",
        };

        Assert.Equal(
            ["--build-arg", "A=1", "--file", "build/ci.Dockerfile", "--label", "k=v", "--platform", "linux/amd64", "--pull",
             "--tag", "registry.example.com/g/blog/ci:abc", "--tag", "registry.example.com/g/blog/ci:latest"],
            settings.ToArguments());
    }

    [Fact]
    public void Empty_settings_give_no_arguments()
    {
        Assert.Empty(new DockerImageBuildSettings().ToArguments());
        Assert.Empty(new DockerImagePushSettings().ToArguments());
        Assert.Empty(new DockerImageTagSettings().ToArguments());
        Assert.Empty(new DockerManifestInspectSettings().ToArguments());
        Assert.Empty(new DockerRegistryLoginSettings().ToArguments());
        Assert.Empty(new DockerRegistryLogoutSettings().ToArguments());
    }

    [Fact]
    public void A_bool_that_docker_defaults_to_true_is_written_false_only_when_false()
    {
        Assert.Equal(["--disable-content-trust=false", "--rm=false"], new DockerImageBuildSettings { DisableContentTrust = false, Rm = false }.ToArguments());
        Assert.Equal(["--disable-content-trust", "--rm"], new DockerImageBuildSettings { DisableContentTrust = true, Rm = true }.ToArguments());
        Assert.Equal(["--disable-content-trust=false"], new DockerImagePushSettings { DisableContentTrust = false }.ToArguments());
    }

    [Fact]
    public void The_login_password_is_never_an_argument()
    {
        var settings = new DockerRegistryLoginSettings { Username = "gitlab-ci-token", Password = "s3cr3t-registry-password", PasswordStdin = true };

        var args = settings.ToArguments();

        Assert.Equal(["--password-stdin", "--username", "gitlab-ci-token"], args);
        Assert.DoesNotContain(args, a => a.Contains("s3cr3t"));
    }

    [Fact]
    public void Push_and_manifest_inspect_flags()
    {
        Assert.Equal(["--all-tags", "--quiet"], new DockerImagePushSettings { AllTags = true, Quiet = true }.ToArguments());
        Assert.Equal(["--insecure", "--verbose"], new DockerManifestInspectSettings { Insecure = true, Verbose = true }.ToArguments());
    }

    [Fact]
    public void The_settings_classes_have_the_package_names_and_nullable_flags_where_it_has_them()
    {
        Assert.Equal(typeof(bool?), typeof(DockerImageBuildSettings).GetProperty(nameof(DockerImageBuildSettings.Pull))!.PropertyType);
        Assert.Equal(typeof(bool?), typeof(DockerRegistryLoginSettings).GetProperty(nameof(DockerRegistryLoginSettings.PasswordStdin))!.PropertyType);
        Assert.Equal(typeof(bool?), typeof(DockerManifestInspectSettings).GetProperty(nameof(DockerManifestInspectSettings.Insecure))!.PropertyType);
        Assert.Equal(typeof(bool), typeof(DockerImagePushSettings).GetProperty(nameof(DockerImagePushSettings.AllTags))!.PropertyType);
    }

    [Theory]
    [InlineData("File", "file")]
    [InlineData("BuildArg", "build-arg")]
    [InlineData("PasswordStdin", "password-stdin")]
    [InlineData("NoCache", "no-cache")]
    public void Property_names_become_kebab_case(string name, string expected) => Assert.Equal(expected, DockerSettings.KebabCase(name));
}
