using Build.Docker;
using Build.Output;
using Build.Processes;
using Cake.Core;

namespace Build.Tests.Docker;

/// <summary>The Docker aliases, Cake.Docker's names and shapes, against a fake docker on PATH: exact argument lists, the password on stdin.</summary>
public sealed class DockerAliasesTests : IDisposable
{
    private const string Password = "glpat-registry-password-123";
    private readonly FakeDocker _fake = new();
    private readonly List<string> _log = [];
    private readonly DockerClient _docker;
    private readonly ICakeContext _context;

    public DockerAliasesTests()
    {
        _docker = DockerClient.FromPath(new ProcessRunner(new Redactor([Password])), _fake.PathValue, line => { lock (_log) _log.Add(line); });
        _context = new DockerTestContext(_docker);
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
    public void DockerBuild_passes_the_settings_then_the_path()
    {
        _context.DockerBuild(new DockerImageBuildSettings { File = "/repo/build/ci.Dockerfile", Tag = ["r/ci:1"], Pull = true }, "/tmp/ctx");

        var call = Assert.Single(_fake.Calls);
        Assert.Equal(["build", "--file", "/repo/build/ci.Dockerfile", "--pull", "--tag", "r/ci:1", "/tmp/ctx"], call.Args);
        Assert.Equal("", call.Stdin);
        Assert.Contains("> docker build --file /repo/build/ci.Dockerfile --pull --tag r/ci:1 /tmp/ctx", _log);
    }

    [Fact]
    public void DockerTag_DockerPush_with_the_settings_first_and_DockerLogout()
    {
        _context.DockerTag("r/ci:1", "r/ci:latest");
        _context.DockerPush("r/ci:1");
        _context.DockerPush(new DockerImagePushSettings { AllTags = true }, "r/ci");
        _context.DockerLogout("registry.example.com");

        Assert.Equal(
            [["tag", "r/ci:1", "r/ci:latest"], ["push", "r/ci:1"], ["push", "--all-tags", "r/ci"], ["logout", "registry.example.com"]],
            _fake.Calls.Select(c => c.Args));
    }

    [Fact]
    public void DockerLoginWithPasswordStdin_sends_the_password_on_stdin_never_in_argv()
    {
        _context.DockerLoginWithPasswordStdin("gitlab-ci-token", Password, "registry.example.com");

        var call = Assert.Single(_fake.Calls);
        Assert.Equal(["login", "--password-stdin", "--username", "gitlab-ci-token", "registry.example.com"], call.Args);
        Assert.Equal(Password + "\n", call.Stdin);
        Assert.DoesNotContain(call.Args, a => a.Contains(Password));
        Assert.DoesNotContain(_log, l => l.Contains(Password));
        Assert.Contains("Login Succeeded", _log);
    }

    [Fact]
    public void DockerLogin_refuses_a_password_that_would_go_on_the_command_line()
    {
        var e = Assert.Throws<ArgumentException>(() => _context.DockerLogin(new DockerRegistryLoginSettings { Username = "u", Password = Password }));

        Assert.Contains("DockerLoginWithPasswordStdin", e.Message);
        Assert.Empty(_fake.Calls);
        _context.DockerLogin(new DockerRegistryLoginSettings { Username = "u" }, "registry.example.com");
        Assert.Equal(["login", "--username", "u", "registry.example.com"], Assert.Single(_fake.Calls).Args);
    }

    [Fact]
    public void DockerManifestInspect_throws_when_the_registry_lacks_the_image()
    {
        _fake.Publish("r/ci:present");

        _context.DockerManifestInspect("r/ci:present");
        var missing = Assert.Throws<DockerCommandException>(() => _context.DockerManifestInspect(new DockerManifestInspectSettings { Insecure = true }, null, "r/ci:missing"));

        Assert.Contains("no such manifest", missing.Message);
        Assert.Equal(1, missing.DockerExitCode);
        Assert.Equal([["manifest", "inspect", "r/ci:present"], ["manifest", "inspect", "--insecure", "r/ci:missing"]], _fake.Calls.Select(c => c.Args));
    }

    [Fact]
    public void A_failed_command_throws_with_dockers_own_words()
    {
        _fake.FailBuilds();

        var e = Assert.Throws<DockerCommandException>(() => _context.DockerBuild("."));

        Assert.Contains("docker build failed (exit code 1)", e.Message);
        Assert.Contains("failed to solve", e.Message);
    }

    [Fact]
    public void A_cancelled_context_stops_the_command()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var cancelled = new DockerTestContext(_docker, cts.Token);

        Assert.ThrowsAny<OperationCanceledException>(() => cancelled.DockerPush("r/ci:1"));
        Assert.Empty(_fake.Calls);
    }
}
