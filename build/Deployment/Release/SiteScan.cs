using Microsoft.Win32.SafeHandles;

namespace Build.Deployment.Release;

/// <summary>
/// The files of a site directory as <see cref="Manifest.Scan"/> found them, none opened yet: path relative to the
/// (fully resolved) root, and the mode that goes out (normalized: 0644, or 0755 with any execute bit).
/// </summary>
public sealed class SiteScan(string root, IReadOnlyList<SiteScan.File> files)
{
    /// <summary>One file to deploy; <paramref name="LinkTarget"/> is the resolved target when the site holds a symlink.</summary>
    public sealed record File(string Path, string? LinkTarget, int Mode);

    /// <summary>The site directory with every symlink resolved.</summary>
    public string Root { get; } = root;

    public IReadOnlyList<File> Files { get; } = files;

    public FileStream Open(File file) => Open(Root, file.Path);

    /// <summary><see cref="Open(File)"/> as a bare handle for <see cref="RandomAccess"/> reads; <paramref name="size"/> as the descriptor said.</summary>
    public SafeFileHandle OpenHandle(File file, out long size) => OpenHandle(Root, file.Path, out size);

    /// <summary>
    /// Opens the file at <paramref name="path"/> under <paramref name="root"/> for reading, checking again what the scan
    /// checked (the site may change meanwhile): a regular file, or a symlink resolving to a regular file inside the root.
    /// Anything else is "the site changed while deploying".
    /// </summary>
    public static FileStream Open(string root, string path) => new(OpenHandle(root, path, out _), FileAccess.Read, 1);

    /// <summary><see cref="Open(string, string)"/> as a bare handle, with the size the open descriptor had.</summary>
    public static SafeFileHandle OpenHandle(string root, string path, out long size)
    {
        var full = System.IO.Path.Join(root, path);
        try
        {
            var (kind, _) = SiteFile.Lstat(full);
            if (kind == SiteFileKind.Symlink)
            {
                full = SiteFile.RealPath(full) ?? throw Manifest.Changed(path);
                if (!IsInside(root, full)) throw Manifest.Changed(path);
            }
            else if (kind != SiteFileKind.Regular)
            {
                throw Manifest.Changed(path);
            }
            return SiteFile.OpenRegularHandle(full, out size);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Manifest.Changed(path, e);
        }
    }

    /// <summary>True when the resolved <paramref name="path"/> is <paramref name="root"/> or below it.</summary>
    public static bool IsInside(string root, string path) =>
        path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);
}
