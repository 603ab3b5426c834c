using Bench;

namespace Build.Tests.Bench;

/// <summary>
/// The farm's wiring with one real sshd and a three-file site: its known_hosts (proxy address)
/// passes StrictHostKeyChecking, remote bases are writable by the login user, the proxies count
/// the bytes, and the contenders deliver the files. No timing is asserted.
/// </summary>
public sealed class ServerFarmTests : IDisposable
{
    private readonly string _site = Directory.CreateTempSubdirectory("bench-site-").FullName;

    public ServerFarmTests()
    {
        Directory.CreateDirectory(Path.Join(_site, "posts"));
        File.WriteAllText(Path.Join(_site, "index.html"), "<h1>home</h1>");
        File.WriteAllText(Path.Join(_site, "posts", "a.html"), new string('a', 20_000));
        File.WriteAllText(Path.Join(_site, "feed.xml"), "<feed/>");
    }

    [Fact]
    public async Task Rsync_and_tar_ssh_deliver_the_site_through_the_proxy_with_host_keys_checked()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var farm = await ServerFarm.StartAsync(1, TimeSpan.Zero, null, timeout.Token);
        var server = farm.Servers[0];
        Assert.Equal("s1", server.Name);
        Assert.StartsWith($"[127.0.0.1]:{server.Proxy.Port} ssh-ed25519 ", File.ReadAllText(farm.KnownHostsPath), StringComparison.Ordinal);

        var remote = await farm.CreateRemoteBaseAsync("t", 1, timeout.Token);
        var run = await new RsyncContender(farm, parallel: false).RunAsync(_site, remote, 1, timeout.Token);
        Assert.Equal(new string('a', 20_000), File.ReadAllText(Path.Join(remote, "s1", "posts", "a.html")));
        Assert.True(run.PeakRssKb > 0);
        var (up, down) = farm.Bytes(1);
        Assert.True(up > 1000 && down > 1000, $"up {up}, down {down}");

        await new TarSshContender(farm).RunAsync(_site, remote, 1, timeout.Token);
        var fresh = Assert.Single(Directory.GetDirectories(Path.Join(remote, "s1"), "tar-*"));
        Assert.Equal("<feed/>", File.ReadAllText(Path.Join(fresh, "feed.xml")));

        var args = new DeployContender(farm, "/repo").Arguments(_site, remote, 1);
        Assert.Equal("/repo/build.sh", args[0]);   // run as a user runs it
        Assert.Contains($"--hosts=s1=127.0.0.1:{server.Proxy.Port}", args);
        Assert.Contains($"--remote-root={remote}/{{server}}", args);
        Assert.Contains($"--known-hosts={farm.KnownHostsPath}", args);
    }

    public void Dispose() => Directory.Delete(_site, recursive: true);
}
