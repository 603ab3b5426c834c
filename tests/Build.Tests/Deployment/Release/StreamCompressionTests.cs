using System.Runtime.Versioning;
using Build.Deployment.Release;

namespace Build.Tests.Deployment.Release;

[UnsupportedOSPlatform("windows")]
public sealed class StreamCompressionTests
{
    [Theory]
    [InlineData(true, true, true, StreamCompression.Zstd)]
    [InlineData(true, true, false, StreamCompression.Zstd)]
    [InlineData(true, false, true, StreamCompression.Gzip)]
    [InlineData(true, false, false, StreamCompression.None)]
    [InlineData(false, true, true, StreamCompression.None)]
    public void Zstd_is_preferred_then_gzip_then_none_and_none_when_compression_is_off(bool enabled, bool zstd, bool gzip, StreamCompression expected)
    {
        Assert.Equal(expected, StreamCompressions.Choose(enabled, zstd, gzip));
        Assert.Equal(expected, StreamCompressions.Choose(enabled, new RemoteState { CanZstd = zstd, CanGzip = gzip }));
    }

    [Fact]
    public void The_wire_flags_are_dash_z_and_capital_z()
    {
        Assert.Equal(["-", "z", "Z"], Enum.GetValues<StreamCompression>().Select(c => c.WireFlag()));
        Assert.Equal(["uncompressed", "gzip", "zstd"], Enum.GetValues<StreamCompression>().Select(c => c.Name()));
    }

    [Fact]
    public void The_state_reply_announces_zstd_with_cap_zstd()
    {
        var both = RemoteState.Parse("@cap hash\n@cap gzip\n@cap zstd\n@end\n");
        Assert.True(both.CanZstd);
        Assert.True(both.CanGzip);
        Assert.True(both.CanHashStream);

        var gzipOnly = RemoteState.Parse("@cap gzip\n@end\n");
        Assert.False(gzipOnly.CanZstd);
        Assert.True(gzipOnly.CanGzip);

        // Only the exact word counts.
        Assert.False(RemoteState.Parse("@cap zstdx\n@cap zst\n@end\n").CanZstd);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu, true)]
    [InlineData(ShellFlavor.BusyBox, false)]
    [InlineData(ShellFlavor.Minimal, false)]
    public async Task The_state_script_finds_zstd_on_the_path_and_busybox_has_none(ShellFlavor flavor, bool zstd)
    {
        using var kit = new ReleaseTestKit(flavor);
        // Taking the lock creates the root: the capabilities are printed for an existing root only.
        var state = await kit.Session().PrepareAsync(true, CancellationToken.None);
        Assert.Equal(zstd, state.CanZstd);
        Assert.Equal(flavor != ShellFlavor.Minimal, state.CanGzip);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu, StreamCompression.Zstd)]
    [InlineData(ShellFlavor.BusyBox, StreamCompression.Gzip)]
    [InlineData(ShellFlavor.Minimal, StreamCompression.None)]
    public async Task A_deploy_uses_the_best_compression_the_server_has(ShellFlavor flavor, StreamCompression expected)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(40, 20_000);
        kit.Write("big.html", string.Concat(Enumerable.Range(0, 60_000).Select(i => $"<p>{i % 101} {i * 31 % 977}</p>\n")));

        var deploy = await kit.DeployAsync();

        Assert.Equal(expected, deploy.Upload!.Compression);
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
        Assert.Contains(kit.Progress.Lines, l => l.Contains($"({expected.Name()})", StringComparison.Ordinal));
    }
}
