using System.Runtime.InteropServices;
using ZstdSharp;

namespace Build.Deployment.Release;

/// <summary>
/// Compresses one zstd frame at a time, each on its own (no history between frames), at a level given per frame:
/// with the system's libzstd where the machine has one (Debian, Ubuntu, Fedora and most CI images do), else with
/// ZstdSharp, the managed port. Both write standard frames; libzstd takes about half the CPU (on the benchmark's
/// 38 MB of tar at level 3: ~0.1 s against ~0.2 s ReadyToRun-compiled), which a 2-core runner spends while uploading.
/// </summary>
public sealed class ZstdFrames : IDisposable
{
    private const string Library = "libzstd.so.1";

    // Probed once: whether the library loads never changes while the program runs.
    private static readonly bool NativeAvailable = OperatingSystem.IsLinux() && NativeLibrary.TryLoad(Library, out _);

    private Compressor? managed;
    private nint context;

    /// <param name="native">False: always the managed port (tests compare the two).</param>
    public ZstdFrames(bool native = true)
    {
        if (native && NativeAvailable) context = ZSTD_createCCtx();
        if (context == 0) managed = new Compressor();
    }

    /// <summary>Whether frames come from the system's libzstd.</summary>
    public bool IsNative => context != 0;

    /// <summary>The largest frame <paramref name="size"/> bytes can become.</summary>
    public static int Bound(int size) => Compressor.GetCompressBound(size);

    /// <summary>One frame of <paramref name="source"/> into <paramref name="destination"/> (at least <see cref="Bound"/> long); its length.</summary>
    public int Compress(ReadOnlySpan<byte> source, Span<byte> destination, int level)
    {
        ObjectDisposedException.ThrowIf(context == 0 && managed is null, this);
        if (context == 0)
        {
            managed!.Level = level;
            return managed.Wrap(source, destination);
        }
        var written = ZSTD_compressCCtx(context, ref MemoryMarshal.GetReference(destination), (nuint)destination.Length,
            ref MemoryMarshal.GetReference(source), (nuint)source.Length, level);
        if (ZSTD_isError(written) != 0)
            throw new InvalidOperationException($"libzstd could not compress a frame ({Marshal.PtrToStringUTF8(ZSTD_getErrorName(written))}).");
        return (int)written;
    }

    public void Dispose()
    {
        if (context != 0)
        {
            ZSTD_freeCCtx(context);
            context = 0;
        }
        managed?.Dispose();
        managed = null;
    }

    [DllImport(Library)]
    private static extern nint ZSTD_createCCtx();

    [DllImport(Library)]
    private static extern nuint ZSTD_freeCCtx(nint context);

    [DllImport(Library)]
    private static extern nuint ZSTD_compressCCtx(nint context, ref byte destination, nuint capacity, ref byte source, nuint size, int level);

    [DllImport(Library)]
    private static extern uint ZSTD_isError(nuint code);

    [DllImport(Library)]
    private static extern nint ZSTD_getErrorName(nuint code);
}
