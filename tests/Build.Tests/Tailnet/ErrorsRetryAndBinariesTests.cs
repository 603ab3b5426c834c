using Build.Settings;
using Build.Tailnet;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests.Tailnet;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ErrorsRetryAndBinariesTests
{
    [Theory]
    [InlineData("backend error: requested tags [tag:ci] are invalid or not permitted", "tagOwners")]
    [InlineData("oauth authkeys require --advertise-tags", "--ts-tags")]
    [InlineData("unknown attribute \"tags\"", "plain secret")]
    [InlineData("invalid attribute boolean attribute ephemeral value \"yes please\"", "plain secret")]
    [InlineData("tag: \"TAG:ci\": tags must start with 'tag:'", "tag:name")]
    [InlineData("tag: \"tag:\": tag names must not be empty", "letters, digits or dashes")]
    [InlineData("backend error: invalid key: API key does not exist", "create a new key")]
    [InlineData("backend error: invalid key: API key kXXX expired", "new auth key")]
    [InlineData("failed to get API access token: oauth2: \"invalid_client\" \"invalid client secret\"", "new OAuth client secret")]
    [InlineData("failed to create authkey: calling actor does not have enough permissions to perform this function", "auth_keys")]
    [InlineData("Status: 403, Message: \"API token invalid: missing scope auth_keys\"", "auth_keys")]
    [InlineData("backend error: invalid or expired key", "new auth key")]
    [InlineData("auth key has been revoked", "create a new key")]
    [InlineData("oauth2: cannot fetch token: 401 Unauthorized", "current secret")]
    public void Permanent_up_errors_exit_2_with_cause_and_fix(string output, string fix)
    {
        var error = UpErrors.Classify(output, 1);
        var settings = Assert.IsType<SettingsException>(error);
        Assert.Equal(ExitCodes.BadSettings, settings.ExitCode);
        Assert.Contains("Fix:", error.Message);
        Assert.Contains(fix, error.Message);
        Assert.True(UpErrors.IsPermanent(error));
    }

    [Theory]
    [InlineData("failed to connect to local tailscaled; it doesn't appear to be running")]
    [InlineData("backend error: Post \"https://controlplane.tailscale.com/machine/register\": dial tcp 192.0.2.10:443: i/o timeout")]
    [InlineData("timeout waiting for Tailscale service to enter a Running state; last state: NeedsLogin")]
    [InlineData("context deadline exceeded")]
    [InlineData("503 Service Unavailable: the scope of this outage is regional")]
    [InlineData("x509: certificate has expired or is not yet valid")]
    [InlineData("")]
    public void Other_up_errors_are_transient(string output)
    {
        var error = UpErrors.Classify(output, 1);
        Assert.IsType<TransientTailnetException>(error);
        Assert.Equal(ExitCodes.TaskFailed, error.ExitCode);
    }

    [Fact]
    public async Task Retries_wait_with_exponential_backoff_on_the_clock()
    {
        var time = new FakeTimeProvider();
        var attempts = new List<TimeSpan>();
        var start = time.GetUtcNow();
        var delays = new List<TimeSpan>();
        // A fixed randomizer makes the jittered delays repeatable.
        var pipeline = JoinRetry.Create(4, TimeSpan.FromSeconds(2), time, (_, delay, _) => delays.Add(delay), () => 0.5);
        var run = pipeline.ExecuteAsync(_ =>
        {
            attempts.Add(time.GetUtcNow() - start);
            return attempts.Count < 4 ? throw new TransientTailnetException("control plane timeout") : ValueTask.CompletedTask;
        }).AsTask();

        Assert.Single(attempts);
        for (var i = 0; i < 200 && !run.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Yield();
        }
        await run;
        Assert.Equal(4, attempts.Count);
        Assert.Equal(3, delays.Count);
        // Each wait really happened on the clock, and they grow.
        for (var i = 1; i < attempts.Count; i++)
            Assert.True(attempts[i] - attempts[i - 1] >= delays[i - 1] - TimeSpan.FromMilliseconds(1), $"attempt {i + 1} waited its delay");
        Assert.True(delays[1] > delays[0] && delays[2] > delays[1], string.Join(", ", delays));
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(16)));
    }

    [Fact]
    public async Task Nothing_happens_before_the_delay_has_passed()
    {
        var time = new FakeTimeProvider();
        var calls = 0;
        var delays = new List<TimeSpan>();
        var pipeline = JoinRetry.Create(2, TimeSpan.FromSeconds(10), time, (_, d, _) => delays.Add(d));
        var run = pipeline.ExecuteAsync(_ => ++calls == 1 ? throw new TransientTailnetException("x") : ValueTask.CompletedTask).AsTask();
        Assert.Equal(1, calls);
        var delay = Assert.Single(delays);
        time.Advance(delay - TimeSpan.FromMilliseconds(1));
        await Task.Yield();
        Assert.Equal(1, calls);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Jitter_spreads_the_delays()
    {
        var seen = new HashSet<TimeSpan>();
        for (var i = 0; i < 8; i++)
        {
            var time = new FakeTimeProvider();
            var pipeline = JoinRetry.Create(2, TimeSpan.FromSeconds(1), time, (_, d, _) => seen.Add(d));
            var calls = 0;
            var run = pipeline.ExecuteAsync(_ => ++calls == 1 ? throw new TransientTailnetException("x") : ValueTask.CompletedTask).AsTask();
            time.Advance(TimeSpan.FromSeconds(30));
            await run.WaitAsync(TimeSpan.FromSeconds(10));
        }
        Assert.True(seen.Count > 1, "jittered delays differ");
    }

    [Fact]
    public async Task Permanent_failures_are_not_retried()
    {
        var time = new FakeTimeProvider();
        var calls = 0;
        var pipeline = JoinRetry.Create(5, TimeSpan.FromSeconds(1), time);
        await Assert.ThrowsAsync<SettingsException>(() => pipeline.ExecuteAsync(_ =>
        {
            calls++;
            throw UpErrors.Classify("requested tags [tag:ci] are invalid or not permitted", 1);
        }).AsTask());
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task One_attempt_means_no_retry()
    {
        var calls = 0;
        var pipeline = JoinRetry.Create(1, TimeSpan.FromSeconds(1), new FakeTimeProvider());
        await Assert.ThrowsAsync<TransientTailnetException>(() => pipeline.ExecuteAsync(_ => { calls++; throw new TransientTailnetException("x"); }).AsTask());
        Assert.Equal(1, calls);
    }

    [Fact]
    public void Binaries_are_found_on_PATH_before_the_fallbacks()
    {
        var dir = Directory.CreateTempSubdirectory("bins-").FullName;
        try
        {
            foreach (var name in new[] { "tailscale", "tailscaled" })
            {
                File.WriteAllText(Path.Join(dir, name), "#!/bin/sh\n");
                File.SetUnixFileMode(Path.Join(dir, name), UnixFileMode.UserRead | UnixFileMode.UserExecute);
            }
            var found = TailscaleBinaries.LocateBoth(n => n == "PATH" ? "/nonexistent:" + dir : null);
            Assert.Equal(Path.Join(dir, "tailscale"), found.Cli);
            Assert.Equal(Path.Join(dir, "tailscaled"), found.Daemon);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_file_that_is_not_executable_is_skipped_and_a_missing_binary_says_how_to_install()
    {
        var dir = Directory.CreateTempSubdirectory("bins-").FullName;
        try
        {
            File.WriteAllText(Path.Join(dir, "tailscaled-test-missing"), "not executable");
            Assert.Null(TailscaleBinaries.Find("tailscaled-test-missing", n => n == "PATH" ? dir : null));
            var error = Assert.Throws<SettingsException>(() => TailscaleBinaries.Locate("tailscaled-test-missing", n => n == "PATH" ? dir : null));
            Assert.Contains("apk add tailscale", error.Message);
            Assert.Contains("/usr/sbin", error.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_daemon_environment_prepends_libexec_and_sets_the_firewall_mode()
    {
        var env = TailscaleDaemon.EnvironmentFor(n => n == "PATH" ? "/usr/bin:/bin" : null);
        Assert.Equal("/usr/libexec/tailscale:/usr/bin:/bin", env["PATH"]);
        Assert.Equal("nftables", env["TS_DEBUG_FIREWALL_MODE"]);
        var given = TailscaleDaemon.EnvironmentFor(n => n == "TS_DEBUG_FIREWALL_MODE" ? "iptables" : null);
        Assert.Equal("iptables", given["TS_DEBUG_FIREWALL_MODE"]);
        Assert.Equal("/usr/libexec/tailscale", given["PATH"]);
    }
}
