namespace Build.Tailnet;

/// <summary>
/// The key for <c>tailscale up --auth-key=file:PATH</c>: created with mode 0600 (never readable by
/// others, not even for an instant), deleted right after <c>up</c> and in every teardown.
/// </summary>
public sealed class KeyFile : IDisposable
{
    private KeyFile(string path) => Path = path;

    public string Path { get; }

    public string Argument => "file:" + Path;

    public static KeyFile Write(string directory, AuthKey key)
    {
        Directory.CreateDirectory(directory);
        var path = System.IO.Path.Join(directory, $"authkey-{Guid.NewGuid():N}");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
        };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(key.FileContent);
        }
        return new KeyFile(path);
    }

    /// <summary>Idempotent.</summary>
    public void Dispose()
    {
        try
        {
            File.Delete(Path);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
