using System.Globalization;
using System.Text.RegularExpressions;
using Build.Deployment;
using Build.Deployment.Release;
using Build.Resilience;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests.Deployment;

/// <summary>The n-th retry waits retry-delay · 2^(n−1) × [0.8, 1.2], at most a minute: visibly growing.</summary>
public sealed class RetryDelayTests
{
    [Theory]
    [InlineData(1, 0.0, 1.6)]
    [InlineData(1, 0.5, 2.0)]
    [InlineData(1, 1.0, 2.4)]
    [InlineData(2, 0.5, 4.0)]
    [InlineData(3, 0.0, 6.4)]
    [InlineData(5, 1.0, 38.4)]
    [InlineData(6, 0.5, 60)]
    [InlineData(30, 1.0, 60)]
    public void The_formula(int retry, double random, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), RetryPipeline.Backoff(retry, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1), random));

    [Fact]
    public void Every_retry_waits_longer_than_the_one_before_whatever_the_jitter()
    {
        var delay = TimeSpan.FromMilliseconds(10);
        for (var n = 1; n < 12; n++)
        {
            var longest = RetryPipeline.Backoff(n, delay, TimeSpan.FromMinutes(1), 0.999999);
            var shortestNext = RetryPipeline.Backoff(n + 1, delay, TimeSpan.FromMinutes(1), 0);
            Assert.True(shortestNext > longest, $"retry {n + 1} ({shortestNext}) waits longer than retry {n} ({longest})");
        }
    }

    [Fact]
    public async Task The_deploy_retries_wait_those_delays_on_the_clock()
    {
        var time = new FakeTimeProvider();
        var messages = new List<string>();
        var pipeline = Retries.Create(4, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10), time, messages.Add);
        var calls = new List<DateTimeOffset>();
        var run = pipeline.ExecuteAsync(_ =>
        {
            calls.Add(time.GetUtcNow());
            return calls.Count < 4 ? throw new ReleaseException("did not verify", ReleaseFailure.VerifyFailed) : ValueTask.CompletedTask;
        }).AsTask();
        // Advance in small steps, each after the pipeline had the chance to schedule its wait.
        for (var i = 0; i < 400 && !run.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
        }
        await run;
        var waits = messages.Select(m => double.Parse(Regex.Match(m, @"retrying in ([0-9.]+)s").Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(3, waits.Count);
        for (var n = 0; n < 3; n++)
        {
            Assert.InRange(waits[n], 2 * Math.Pow(2, n) * 0.8 - 0.05, 2 * Math.Pow(2, n) * 1.2 + 0.05);
            Assert.True(calls[n + 1] - calls[n] >= TimeSpan.FromSeconds(waits[n] - 0.05), $"retry {n + 1} waited on the clock");
        }
    }
}
