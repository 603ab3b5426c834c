using Build.Docker;
using Build.Output;
using Build.Processes;
using Build.Settings;

namespace Build.Tests.Docker;

/// <summary>CiImage against a fake docker: the exact commands, in order.</summary>
public sealed class CiImagePublisherTests : IDisposable
{
    private const string Password = "glcbt-64-registry-password";
    private const string Repository = "registry.example.com/group/blog/ci";
    private readonly FakeDocker _fake = new();
    private readonly string _work = Directory.CreateTempSubdirectory("ci-image-test-").FullName;
    private readonly string _dockerfile;
    private readonly List<string> _log = [];
    private readonly CiImagePublisher _publisher;

    public CiImagePublisherTests()
    {
        _dockerfile = Path.Join(_work, "ci.Dockerfile");
        File.WriteAllText(_dockerfile, "FROM alpine:3.23\nRUN apk add --no-cache bash\n");
        var docker = DockerClient.FromPath(new ProcessRunner(new Redactor([Password])), _fake.PathValue, line => { lock (_log) _log.Add(line); });
        _publisher = new CiImagePublisher(new DockerTestContext(docker), line => { lock (_log) _log.Add(line); });
    }

    public void Dispose()
    {
        _fake.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private static CiImageSettings Settings(string? password = Password) =>
        CiImageSettings.Resolve(name => name switch
        {
            "CI_REGISTRY_IMAGE" => "registry.example.com/group/blog",
            "CI_REGISTRY" => "registry.example.com",
            "CI_REGISTRY_USER" => "gitlab-ci-token",
            "CI_REGISTRY_PASSWORD" => password,
            _ => null,
        });

    [Fact]
    public void The_tag_is_the_first_12_hex_digits_of_the_SHA256_of_the_Dockerfile_whatever_its_line_endings()
    {
        // sha256("FROM alpine:3.23\n") computed independently (sha256sum).
        Assert.Equal("e6642fbbe141", CiImagePublisher.TagOf("FROM alpine:3.23\n"));
        Assert.Equal(CiImagePublisher.TagOf("FROM a\nRUN b\n"), CiImagePublisher.TagOf("FROM a\r\nRUN b\r\n"));
        Assert.NotEqual(CiImagePublisher.TagOf("FROM a\n"), CiImagePublisher.TagOf("FROM b\n"));
        Assert.Matches("^[0-9a-f]{12}$", CiImagePublisher.TagOfFile(_dockerfile));
    }

    [Fact]
    public void A_missing_image_is_built_tagged_pushed_with_the_login_on_stdin()
    {
        var tag = CiImagePublisher.TagOfFile(_dockerfile);

        var outcome = _publisher.Publish(Settings(), _dockerfile);

        Assert.Equal(CiImageOutcome.Published, outcome);
        var calls = _fake.Calls;
        Assert.Equal(7, calls.Count);
        Assert.Equal(["login", "--password-stdin", "--username", "gitlab-ci-token", "registry.example.com"], calls[0].Args);
        Assert.Equal(Password + "\n", calls[0].Stdin);
        Assert.Equal(["manifest", "inspect", $"{Repository}:{tag}"], calls[1].Args);
        Assert.Equal(["build", "--file", _dockerfile, "--label", $"org.opencontainers.image.version={tag}", "--pull", "--tag", $"{Repository}:{tag}"], calls[2].Args.SkipLast(1));
        var context = calls[2].Args[^1];
        Assert.False(Directory.Exists(context), "the empty build context is removed afterwards");
        Assert.Equal(["tag", $"{Repository}:{tag}", $"{Repository}:latest"], calls[3].Args);
        Assert.Equal(["push", $"{Repository}:{tag}"], calls[4].Args);
        Assert.Equal(["push", $"{Repository}:latest"], calls[5].Args);
        Assert.Equal(["logout", "registry.example.com"], calls[6].Args);
        Assert.All(calls, c => Assert.DoesNotContain(c.Args, a => a.Contains(Password)));
        Assert.All(calls.Skip(1), c => Assert.Equal("", c.Stdin));
        Assert.DoesNotContain(_log, l => l.Contains(Password));
    }

    [Fact]
    public void An_image_the_registry_has_is_not_built_again()
    {
        var tag = CiImagePublisher.TagOfFile(_dockerfile);
        _fake.Publish($"{Repository}:{tag}");

        var outcome = _publisher.Publish(Settings(), _dockerfile);

        Assert.Equal(CiImageOutcome.AlreadyPublished, outcome);
        Assert.Equal(["login", "manifest", "logout"], _fake.Calls.Select(c => c.Args[0]));
        Assert.Contains(_log, l => l.Contains("already in the registry"));
    }

    [Fact]
    public void A_second_run_finds_what_the_first_pushed()
    {
        _publisher.Publish(Settings(), _dockerfile);
        var second = _publisher.Publish(Settings(), _dockerfile);

        Assert.Equal(CiImageOutcome.AlreadyPublished, second);
        Assert.Single(_fake.Calls, c => c.Args[0] == "build");
    }

    [Fact]
    public void Without_a_registry_password_it_uses_the_existing_login()
    {
        _publisher.Publish(Settings(password: null), _dockerfile);

        Assert.Equal(["manifest", "build", "tag", "push", "push"], _fake.Calls.Select(c => c.Args[0]));
    }

    [Fact]
    public void A_failed_build_fails_the_target_and_still_logs_out()
    {
        _fake.FailBuilds();

        var e = Assert.Throws<DockerCommandException>(() => _publisher.Publish(Settings(), _dockerfile));

        Assert.Contains("docker build failed", e.Message);
        Assert.Equal(["login", "manifest", "build", "logout"], _fake.Calls.Select(c => c.Args[0]));
    }

    [Fact]
    public void Settings_come_from_GitLabs_registry_variables_and_say_what_is_missing()
    {
        var settings = Settings();
        Assert.Equal(Repository, settings.Repository);
        Assert.Equal("registry.example.com", settings.Registry);

        var missing = Assert.Throws<SettingsException>(() => CiImageSettings.Resolve(_ => null));
        Assert.Contains("CI_REGISTRY_IMAGE is not set", missing.Message);
        Assert.Equal(ExitCodes.BadSettings, missing.ExitCode);

        var noUser = Assert.Throws<SettingsException>(() => CiImageSettings.Resolve(n => n is "CI_REGISTRY_IMAGE" or "CI_REGISTRY_PASSWORD" ? "x/y" : null));
        Assert.Contains("CI_REGISTRY_USER", noUser.Message);
    }
}
