using System.Security.Cryptography;

namespace Build.Site;

/// <summary>
/// Whether <c>node_modules</c> already holds what <c>package-lock.json</c> says, so that <c>npm ci</c>
/// (which deletes and rebuilds <c>node_modules</c>, ~10 s) can be skipped.
/// </summary>
/// <remarks>
/// After a successful <c>npm ci</c> a stamp file inside <c>node_modules</c> records a hash of
/// <c>package.json</c> and <c>package-lock.json</c>. The install is current when the stamp matches
/// and Hexo is present. Inside <c>node_modules</c> because <c>npm ci</c> deletes that folder first,
/// so a failed or interrupted install never leaves a stale stamp behind.
/// </remarks>
public sealed class SiteDependencies(string siteDirectory)
{
    public const string StampName = ".pipeline-install.sha256";

    public string SiteDirectory { get; } = Path.GetFullPath(siteDirectory);

    public string LockFile => Path.Join(SiteDirectory, "package-lock.json");

    public string PackageFile => Path.Join(SiteDirectory, "package.json");

    public string NodeModules => Path.Join(SiteDirectory, "node_modules");

    public string StampFile => Path.Join(NodeModules, StampName);

    /// <summary>Hexo's command-line entry point, run with node directly (no npx start-up).</summary>
    public string HexoScript => Path.Join(NodeModules, "hexo", "bin", "hexo");

    /// <summary>Why an install is needed, or null when node_modules matches the lock file.</summary>
    public string? WhyInstall()
    {
        if (!File.Exists(LockFile))
            throw new PipelineException($"{LockFile} is missing: the site's dependencies are installed from it with npm ci. Restore it from git (or create it with npm install in site/ and commit it).");
        if (!Directory.Exists(NodeModules)) return "node_modules does not exist";
        if (!File.Exists(Path.Join(NodeModules, "hexo", "package.json"))) return "hexo is not installed in node_modules";
        if (!File.Exists(StampFile)) return "node_modules was not installed by this pipeline's npm ci";
        return File.ReadAllText(StampFile).Trim() == ComputeHash() ? null : "package-lock.json or package.json changed since the last npm ci";
    }

    public bool IsUpToDate() => WhyInstall() is null;

    /// <summary>Records that node_modules now matches the lock file. Call only after npm ci succeeded.</summary>
    public void MarkInstalled()
    {
        Directory.CreateDirectory(NodeModules);
        File.WriteAllText(StampFile, ComputeHash() + "\n");
    }

    public string ComputeHash()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in new[] { PackageFile, LockFile })
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\n"));
            if (File.Exists(file)) hash.AppendData(File.ReadAllBytes(file));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
