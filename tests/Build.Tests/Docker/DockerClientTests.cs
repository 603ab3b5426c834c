using Build.Docker;
using Build.Output;
using Build.Processes;

namespace Build.Tests.Docker;

/// <summary>The docker aliases run against a fake docker on PATH: exact argument lists, the password on stdin.</summary>
public sealed class DockerClientTests : IDisposable
{
    private const string Password = "glpat-registry-password-123";
    private readonly FakeDocker _fake = new();
    private readonly List<string> _log = [];
    private readonly DockerClient _docker;

    public DockerClientTests()
    {
        _docker = DockerClient.FromPath(new ProcessRunner(new Redactor([Password])), _fake.PathValue, line => { lock (_log) _log.Add(line); });
    }

    public void Dispose() => _fake.Dispose();

    [Fact]
    public void Docker_is_found_on_the_PATH_value()
    {
        Assert.Equal(_fake.Executable, _docker.Executable);
        Assert.Equal(_fake.Executable, ToolLocator.Find("docker", "/nonexistent" + Path.PathSeparator + _fake.Directory));
        Assert.Null(ToolLocator.Find("docker", "/nonexistent"));
    }

    [Fact]
    public void Without_docker_on_PATH_the_error_says_what_to_install()
    {
        var e = Assert.Throws<PipelineException>(() => DockerClient.FromPath(new ProcessRunner(Redactor.None), "/nonexistent", _ => { }));
        Assert.Contains("docker is not on PATH", e.Message);
    }

    [Fact]
    public async Task Build_passes_the_settings_then_the_context()
    {
        await _docker.BuildAsync(new DockerBuildSettings { File = "/repo/build/ci.Dockerfile", Tag = ["r/ci:1"], Pull = true }, "/tmp/ctx", CancellationToken.None);

        var call = Assert.Single(_fake.Calls);
        Assert.Equal(["build", "--file", "/repo/build/ci.Dockerfile", "--tag", "r/ci:1", "--pull", "/tmp/ctx"], call.Args);
        Assert.Equal("", call.Stdin);
        Assert.Contains("> docker build --file /repo/build/ci.Dockerfile --tag r/ci:1 --pull /tmp/ctx", _log);
    }

    [Fact]
    public async Task Tag_push_and_logout()
    {
        await _docker.TagAsync("r/ci:1", "r/ci:latest", CancellationToken.None);
        await _docker.PushAsync(new DockerPushSettings(), "r/ci:1", CancellationToken.None);
        await _docker.LogoutAsync("registry.example.com", CancellationToken.None);

        Assert.Equal(
            [["tag", "r/ci:1", "r/ci:latest"], ["push", "r/ci:1"], ["logout", "registry.example.com"]],
            _fake.Calls.Select(c => c.Args));
    }

    [Fact]
    public async Task Login_sends_the_password_on_stdin_never_in_argv()
    {
        await _docker.LoginAsync(new DockerLoginSettings { Username = "gitlab-ci-token", Password = Password }, "registry.example.com", CancellationToken.None);

        var call = Assert.Single(_fake.Calls);
        Assert.Equal(["login", "--username", "gitlab-ci-token", "--password-stdin", "registry.example.com"], call.Args);
        Assert.Equal(Password + "\n", call.Stdin);
        Assert.DoesNotContain(call.Args, a => a.Contains(Password));
        Assert.DoesNotContain(_log, l => l.Contains(Password));
        Assert.Contains("Login Succeeded", _log);
    }

    [Fact]
    public async Task Manifest_inspect_answers_whether_the_registry_has_the_image()
    {
        _fake.Publish("r/ci:present");

        var present = await _docker.ManifestInspectAsync(new DockerManifestInspectSettings(), "r/ci:present", CancellationToken.None);
        var missing = await _docker.ManifestInspectAsync(new DockerManifestInspectSettings { Insecure = true }, "r/ci:missing", CancellationToken.None);

        Assert.True(present.Succeeded);
        Assert.False(missing.Succeeded);
        Assert.Contains("no such manifest", missing.Error);
        Assert.Equal([["manifest", "inspect", "r/ci:present"], ["manifest", "inspect", "--insecure", "r/ci:missing"]], _fake.Calls.Select(c => c.Args));
    }

    [Fact]
    public async Task A_failed_command_throws_with_dockers_own_words()
    {
        _fake.FailBuilds();

        var e = await Assert.ThrowsAsync<PipelineException>(() => _docker.BuildAsync(new DockerBuildSettings(), ".", CancellationToken.None));

        Assert.Contains("docker build failed (exit code 1)", e.Message);
        Assert.Contains("failed to solve", e.Message);
    }
}
