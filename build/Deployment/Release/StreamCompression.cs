namespace Build.Deployment.Release;

/// <summary>How an upload stream is compressed (one frame or member per <see cref="UploadUnits.TarBytesPerUnit"/> of tar).</summary>
public enum StreamCompression
{
    /// <summary>The raw tar stream: compression is off, or the server has neither zstd nor gzip.</summary>
    None,

    /// <summary>A series of gzip members, extracted with <c>tar -x -z</c> (GNU and BusyBox tar alike).</summary>
    Gzip,

    /// <summary>A series of zstd frames, decompressed with <c>zstd -dcq</c> into <c>tar -x</c>.</summary>
    Zstd,
}

public static class StreamCompressions
{
    /// <summary>
    /// The one place the compression is chosen: zstd when the server has it (on a blog's tar, a third smaller than
    /// gzip for less CPU), else gzip, else none; none when <paramref name="enabled"/> is off (<see cref="ReleaseOptions.Compress"/>: no setting, tests turn it off).
    /// </summary>
    public static StreamCompression Choose(bool enabled, bool serverHasZstd, bool serverHasGzip) =>
        !enabled ? StreamCompression.None
        : serverHasZstd ? StreamCompression.Zstd
        : serverHasGzip ? StreamCompression.Gzip
        : StreamCompression.None;

    /// <inheritdoc cref="Choose(bool, bool, bool)"/>
    public static StreamCompression Choose(bool enabled, RemoteState state) => Choose(enabled, state.CanZstd, state.CanGzip);

    /// <summary>The compress field of the upload script's header line: <c>-</c>, <c>z</c> or <c>Z</c>.</summary>
    public static string WireFlag(this StreamCompression compression) => compression switch
    {
        StreamCompression.Gzip => "z",
        StreamCompression.Zstd => "Z",
        _ => "-",
    };

    /// <summary>The name shown in progress lines and logs.</summary>
    public static string Name(this StreamCompression compression) => compression switch
    {
        StreamCompression.Gzip => "gzip",
        StreamCompression.Zstd => "zstd",
        _ => "uncompressed",
    };
}
