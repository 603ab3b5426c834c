namespace Build.Output;

/// <summary>Files under artifacts/ that other jobs read: written whole or not at all.</summary>
public static class ArtifactFile
{
    /// <summary>Writes beside the target, then renames over it, so a reader never sees half a file.</summary>
    public static async Task WriteAllTextAsync(string path, string content, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp";
        await File.WriteAllTextAsync(temp, content, cancellationToken);
        File.Move(temp, path, overwrite: true);
    }
}
