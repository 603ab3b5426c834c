using Build.Docker;

namespace Build.Tests.Docker;

public sealed class DockerSettingsTests
{
    [Fact]
    public void Build_settings_become_options_in_declaration_order()
    {
        var settings = new DockerBuildSettings
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
            ["--file", "build/ci.Dockerfile", "--tag", "registry.example.com/g/blog/ci:abc", "--tag", "registry.example.com/g/blog/ci:latest",
             "--build-arg", "A=1", "--label", "k=v", "--pull", "--platform", "linux/amd64"],
            settings.ToArguments());
    }

    [Fact]
    public void Empty_settings_give_no_arguments()
    {
        Assert.Empty(new DockerBuildSettings().ToArguments());
        Assert.Empty(new DockerPushSettings().ToArguments());
        Assert.Empty(new DockerManifestInspectSettings().ToArguments());
        Assert.Empty(new DockerLoginSettings().ToArguments());
    }

    [Fact]
    public void The_login_password_is_never_an_argument_only_password_stdin()
    {
        var settings = new DockerLoginSettings { Username = "gitlab-ci-token", Password = "s3cr3t-registry-password" };

        var args = settings.ToArguments();

        Assert.Equal(["--username", "gitlab-ci-token", "--password-stdin"], args);
        Assert.DoesNotContain(args, a => a.Contains("s3cr3t"));
    }

    [Fact]
    public void Push_and_manifest_inspect_flags()
    {
        Assert.Equal(["--all-tags", "--quiet"], new DockerPushSettings { AllTags = true, Quiet = true }.ToArguments());
        Assert.Equal(["--insecure", "--verbose"], new DockerManifestInspectSettings { Insecure = true, Verbose = true }.ToArguments());
    }

    [Theory]
    [InlineData("File", "file")]
    [InlineData("BuildArg", "build-arg")]
    [InlineData("PasswordStdin", "password-stdin")]
    [InlineData("NoCache", "no-cache")]
    public void Property_names_become_kebab_case(string name, string expected) => Assert.Equal(expected, DockerSettings.KebabCase(name));
}
