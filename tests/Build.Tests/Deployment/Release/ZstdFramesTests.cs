using System.Text;
using Build.Deployment.Release;
using ZstdSharp;

namespace Build.Tests.Deployment.Release;

public sealed class ZstdFramesTests
{
    private static byte[] Html(int bytes)
    {
        var text = new StringBuilder();
        for (var i = 0; text.Length < bytes; i++)
            text.Append("<li><a href=\"/2024/").Append(i % 97).Append("/post-").Append(i * 31 % 1009).Append("/\">A post about ").Append(i % 13).Append("</a></li>\n");
        return Encoding.ASCII.GetBytes(text.ToString())[..bytes];
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(true, 3)]
    [InlineData(true, 9)]
    [InlineData(false, 3)]
    public void A_frame_decodes_alone_to_exactly_its_input(bool native, int level)
    {
        var input = Html(300_000);
        using var frames = new ZstdFrames(native);
        var frame = new byte[ZstdFrames.Bound(input.Length)];

        var length = frames.Compress(input, frame, level);

        Assert.InRange(length, 1, input.Length / 4);
        using var decompressor = new Decompressor();
        Assert.Equal(input, decompressor.Unwrap(frame.AsSpan(0, length)).ToArray());
    }

    [Fact]
    public void The_systems_libzstd_is_used_where_it_is_installed_and_the_managed_port_otherwise()
    {
        var installed = new[] { "/lib/x86_64-linux-gnu/libzstd.so.1", "/usr/lib/x86_64-linux-gnu/libzstd.so.1", "/lib/aarch64-linux-gnu/libzstd.so.1", "/usr/lib/libzstd.so.1", "/lib/libzstd.so.1" }
            .Any(File.Exists);
        using var system = new ZstdFrames();
        using var managed = new ZstdFrames(native: false);

        Assert.Equal(installed, system.IsNative);
        Assert.False(managed.IsNative);
    }

    [Fact]
    public void One_context_makes_independent_frames_at_each_level_asked()
    {
        var input = Html(200_000);
        using var frames = new ZstdFrames();
        var fast = new byte[ZstdFrames.Bound(input.Length)];
        var small = new byte[ZstdFrames.Bound(input.Length)];

        var fastLength = frames.Compress(input, fast, 1);
        var smallLength = frames.Compress(input, small, 9);

        // The second frame carries no history of the first: it decodes on its own.
        using var decompressor = new Decompressor();
        Assert.Equal(input, decompressor.Unwrap(small.AsSpan(0, smallLength)).ToArray());
        Assert.True(smallLength <= fastLength, $"level 9 gave {smallLength} bytes, level 1 {fastLength}");
    }

    [Fact]
    public void A_disposed_compressor_is_refused()
    {
        var frames = new ZstdFrames();
        frames.Dispose();
        Assert.Throws<ObjectDisposedException>(() => frames.Compress(Html(1000), new byte[ZstdFrames.Bound(1000)], 3));
    }
}
