using Build.Deployment;
using Build.Deployment.Health;
using Build.Settings;
using Build.Tests.Support;

namespace Build.Tests.Deployment.Health;

public sealed class HealthSettingsTests : IDisposable
{
    private readonly TempDir _dir = new("health-settings");
    private readonly Dictionary<string, List<string>> _args = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _env = new();

    public void Dispose() => _dir.Dispose();

    private HealthSettings Resolve(string? deployJson = null) =>
        HealthSettings.From(new SettingsSource(
            name => _args.TryGetValue(name, out var v) ? v : [],
            name => _env.GetValueOrDefault(name),
            deployJson is null ? null : _dir.File("deploy.json", deployJson)));

    private void Arg(string name, params string[] values) => _args[name] = [.. values];

    [Fact]
    public void Defaults_write_the_marker_and_check_nothing()
    {
        var s = Resolve();
        Assert.Equal(".well-known/release", s.Marker.Path);
        Assert.Equal("/.well-known/release", s.Marker.UrlPath);
        Assert.False(s.Enabled);
        Assert.Equal(TimeSpan.FromSeconds(30), s.Timeout);
        Assert.Null(s.Host);
        Assert.Empty(s.Paths);
        Assert.Equal(OnUnhealthy.SwitchBack, s.OnUnhealthy);
    }

    [Fact]
    public void Arguments_variables_and_deploy_json_keys_are_read()
    {
        const string file = """{ "release-marker": "meta/id.txt", "health-url": "https://{dns}/meta/id.txt", "health-path": ["/", "/atom.xml"], "on-unhealthy": "keep" }""";
        _env["DEPLOY_HEALTH_TIMEOUT"] = "45s";
        _env["DEPLOY_HEALTH_HOST"] = "blog.example.org";
        _env["DEPLOY_HEALTH_PATHS"] = "/,/about/";
        Arg("health-path", "/a/", "/b/,/c/");

        var s = Resolve(file);

        Assert.Equal("meta/id.txt", s.Marker.Path);
        Assert.Equal("https://{dns}/meta/id.txt", s.Url!.Template);
        Assert.Equal(TimeSpan.FromSeconds(45), s.Timeout);
        Assert.Equal("blog.example.org", s.Host);
        Assert.Equal(["/a/", "/b/", "/c/"], s.Paths);
        Assert.Equal(OnUnhealthy.Keep, s.OnUnhealthy);
        _args.Remove("health-path");
        Assert.Equal(["/", "/about/"], Resolve(file).Paths);
        _env.Remove("DEPLOY_HEALTH_PATHS");
        Assert.Equal(["/", "/atom.xml"], Resolve(file).Paths);
    }

    [Theory]
    [InlineData("health-url", "ftp://{host}/x", "--health-url", "not an http or https URL")]
    [InlineData("health-url", "{host}/.well-known/release", "--health-url", "not an http or https URL")]
    [InlineData("health-url", "http://{hostname}/x", "--health-url", "unknown placeholder {hostname}")]
    [InlineData("health-url", "http://user:pw@{host}/x", "--health-url", "user information")]
    [InlineData("health-timeout", "0s", "--health-timeout", "out of range")]
    [InlineData("health-timeout", "11m", "--health-timeout", "out of range")]
    [InlineData("health-timeout", "soon", "--health-timeout", "not a duration")]
    [InlineData("on-unhealthy", "rollback", "--on-unhealthy", "not one of switch-back, keep")]
    [InlineData("release-marker", "../release", "--release-marker", "not a plain relative path")]
    [InlineData("release-marker", "a b/release", "--release-marker", "not a plain relative path")]
    [InlineData("release-marker", ".well-known/", "--release-marker", "names a directory")]
    [InlineData("release-marker", "", "--release-marker", "empty")]
    [InlineData("health-path", "atom.xml", "--health-path", "is not a path")]
    [InlineData("health-path", "//evil.example/x", "--health-path", "is not a path")]
    [InlineData("health-host", "bad host", "--health-host", "not a host name")]
    public void Bad_values_exit_2_naming_the_setting(string name, string value, string origin, string problem)
    {
        Arg(name, value);
        var e = Assert.Throws<SettingsException>(() => Resolve());
        Assert.Equal(2, e.ExitCode);
        Assert.StartsWith($"{origin} = ", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void A_url_without_placeholder_is_refused_for_several_servers_only()
    {
        Arg("health-url", "http://blog.example.org/.well-known/release");
        var s = Resolve();
        s.CheckFor([new DeployTarget("web", "192.0.2.1")]);
        var e = Assert.Throws<SettingsException>(() => s.CheckFor([new DeployTarget("a", "192.0.2.1"), new DeployTarget("b", "192.0.2.2")]));
        Assert.Equal(2, e.ExitCode);
        Assert.Contains("--health-url", e.Message);
        Assert.Contains("{host}", e.Message);
    }

    [Fact]
    public void Placeholders_expand_per_server()
    {
        Arg("health-url", "http://{host}:8080/{server}/x?d={dns}");
        var url = Resolve().Url!;
        Assert.Equal("http://192.0.2.1:8080/web/x?d=web.tail1.ts.net",
            url.For(new DeployTarget("web", "192.0.2.1") { DnsName = "web.tail1.ts.net." }).ToString());
        // Off the tailnet {dns} is the address SSH used; an IPv6 address gets its brackets.
        Assert.Equal("http://[fd7a::1]:8080/web/x?d=[fd7a::1]", url.For(new DeployTarget("web", "fd7a::1")).ToString());
    }
}
