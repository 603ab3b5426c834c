using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Release;
using Build.Deployment.Ssh;
using Build.Settings;
using Build.Tests.Deployment;
using Build.Tests.Deployment.Release;
using TestHosts;

namespace Build.Tests.Deployment.Ssh;

[UnsupportedOSPlatform("windows")]
public sealed class MaxSessionsTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(1)]
    public async Task A_server_that_allows_few_sessions_per_connection_is_still_deployed_to(int maxSessions)
    {
        // A deploy keeps up to four channels open at once (lock, two upload parts, the switch started ahead);
        // hardened servers may allow fewer (Lynis suggests MaxSessions 2).
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var server = await SshServer.StartAsync(new SshServerOptions { Address = "127.0.0.6", MaxSessions = maxSessions });
        var workspace = Directory.CreateTempSubdirectory("maxsessions-").FullName;
        try
        {
            File.SetUnixFileMode(workspace, (UnixFileMode)0b111_101_101);
            var site = Path.Join(workspace, "site");
            for (var i = 0; i < 40; i++)
            {
                Directory.CreateDirectory(Path.Join(site, $"d{i % 5}"));
                File.WriteAllText(Path.Join(site, $"d{i % 5}", $"{i}.html"), $"page {i}");
            }
            var root = Path.Join(workspace, "www");
            Directory.CreateDirectory(root);
            DeployBed.Chown(root);

            var connector = new SshConnector(SshPrivateKey.Load(new PathOrText(server.UserKey.PrivateKeyPath, null, "--ssh-key"), server.UserKey.Passphrase),
                KnownHosts.Parse(server.KnownHostsLines()), server.UserName, 22, TimeSpan.FromSeconds(15));
            // The production path: the fan-out, its retries and its per-server steps, over a real connection.
            ConnectServer connect = async (target, ct) =>
            {
                var connection = await connector.ConnectAsync(target, ct);
                return new ServerLink(connection.Shell, connection);
            };
            var progress = new RecordingProgress();
            var fanOut = new FanOut([new DeployTarget("s", server.Address, server.Port)], connect, new ReleaseRun("run-max-1", "h", 1, "t", null, null),
                new ReleaseOptions { MinFilesPerStream = 4 }, new FanOutOptions { RemoteRoot = RemoteRoot.Of(root), Attempts = 1 }, progress, TimeProvider.System);
            var candidate = await ReleaseCandidate.CreateAsync(site, "abc", TimeProvider.System, timeout.Token);
            var report = new Build.Deployment.Reports.DeployReport { Operation = "deploy", StartedAt = DateTimeOffset.UtcNow };

            await fanOut.DeployAsync(Task.FromResult(candidate), report, timeout.Token);

            Assert.True(Assert.Single(report.Servers).Outcome == Build.Deployment.Reports.Outcome.Deployed, progress.ToString());
            Assert.Contains(progress.Lines, l => l.Contains("sent in 1 stream", StringComparison.Ordinal)); // one command at a time
            ReleaseTestKit.AssertSameTree(site, Path.Join(root, "current"));
            Assert.False(Directory.Exists(Path.Join(root, ".deploy", "lock")));
        }
        finally
        {
            Directory.Delete(workspace, recursive: true);
        }
    }
}
