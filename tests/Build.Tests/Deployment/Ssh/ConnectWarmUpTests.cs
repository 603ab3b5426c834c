using Build.Deployment.Ssh;

namespace Build.Tests.Deployment.Ssh;

/// <summary>The warm-up runs for the command lines whose targets connect, and only for them.</summary>
public sealed class ConnectWarmUpTests
{
    [Theory]
    [InlineData(new[] { "--target=Deploy", "--server=s1" }, new[] { "Deploy" })]
    [InlineData(new[] { "--target", "Rollback" }, new[] { "Rollback" })]
    [InlineData(new[] { "-t", "Releases", "--TARGET=Unlock" }, new[] { "Releases", "Unlock" })]
    [InlineData(new[] { "--site-dir=site/public" }, new[] { "Default" })]
    [InlineData(new[] { "--target" }, new[] { "Default" })]
    public void Targets_are_read_as_the_host_reads_them(string[] args, string[] expected) =>
        Assert.Equal(expected, ConnectWarmUp.Targets(args));

    [Theory]
    [InlineData("Deploy", true)]
    [InlineData("deploy", true)]
    [InlineData("Rollback", true)]
    [InlineData("Releases", true)]
    [InlineData("Unlock", true)]
    [InlineData("Sandbox", true)] // depends on Deploy
    [InlineData("Build", false)]
    [InlineData("Default", false)]
    [InlineData("CheckPolicy", false)]
    [InlineData("NoSuchTarget", false)]
    public void Only_targets_that_connect_warm_up(string target, bool connects) =>
        Assert.Equal(connects, ConnectWarmUp.Connects([target]));
}
