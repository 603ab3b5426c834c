namespace Bench;

/// <summary>The two builds the scenarios deploy: the first (cold) and a rebuild from scratch with one post changed.</summary>
public sealed record BenchSites(string First, string Rebuild, int Files, long Bytes);

/// <summary>
/// Builds the benchmark's site with the real Hexo of site/: copies site/ (minus node_modules,
/// public, db.json) into a temporary folder, links site/node_modules (or runs npm ci in the copy
/// when site/ has none), generates N posts, runs hexo generate; then changes one post and runs
/// hexo clean + generate so every file is rewritten. Never writes into site/.
/// </summary>
public sealed class SiteBuilder(string siteSource, string workDirectory, Action<string> log)
{
    private static readonly HashSet<string> Skipped = new(StringComparer.Ordinal) { "node_modules", "public", "db.json", ".deploy_git" };

    public async Task<BenchSites> BuildAsync(int posts, CancellationToken cancellationToken)
    {
        if (!File.Exists(Path.Join(siteSource, "package.json")))
            throw new BenchOptionsException($"No Hexo site at {siteSource} (no package.json). Point --bench-site at the blog's site/ folder.");
        var site = Path.Join(workDirectory, "site");
        CopyTree(siteSource, site, top: true);
        await LinkDependenciesAsync(site, cancellationToken);

        var generated = new PostGenerator().Generate(Path.Join(site, "source", "_posts"), posts);
        log($"Site: {posts} generated posts; hexo generate...");
        await HexoAsync(site, "generate", cancellationToken);
        var first = Path.Join(workDirectory, "public-first");
        Directory.Move(Path.Join(site, "public"), first);

        PostGenerator.Change(generated[generated.Count / 2], "This post was corrected after publication: the figures above now include the handshake.");
        log("Site: one post changed; hexo clean + generate (every file rewritten)...");
        await HexoAsync(site, "clean", cancellationToken);
        await HexoAsync(site, "generate", cancellationToken);
        var rebuild = Path.Join(workDirectory, "public-rebuild");
        Directory.Move(Path.Join(site, "public"), rebuild);

        var files = new DirectoryInfo(first).EnumerateFiles("*", SearchOption.AllDirectories).ToArray();
        // Where the bytes are (post pages, index pages, tag pages...): tells a realistic site from a skewed one.
        log("Site: " + string.Join(", ", files
            .GroupBy(f => Path.GetRelativePath(first, f.FullName).Split(Path.DirectorySeparatorChar) is [var top, _, ..] ? top + "/" : "(top)")
            .OrderByDescending(g => g.Sum(f => f.Length)).Take(6)
            .Select(g => $"{g.Key} {g.Count()} files {g.Sum(f => f.Length) / 1e6:0.0} MB")));
        return new BenchSites(first, rebuild, files.Length, files.Sum(f => f.Length));
    }

    private async Task LinkDependenciesAsync(string site, CancellationToken cancellationToken)
    {
        var modules = Path.Join(siteSource, "node_modules");
        if (Directory.Exists(Path.Join(modules, "hexo")))
        {
            Directory.CreateSymbolicLink(Path.Join(site, "node_modules"), Path.GetFullPath(modules));
            return;
        }
        log("Site: site/node_modules is missing; npm ci in the temporary copy...");
        (await ChildProcess.RunAsync("npm", ["ci", "--no-audit", "--no-fund"], site, cancellationToken: cancellationToken)).EnsureSuccess("npm ci");
    }

    private static async Task HexoAsync(string site, string command, CancellationToken cancellationToken) =>
        (await ChildProcess.RunAsync("node", [Path.Join("node_modules", "hexo", "bin", "hexo"), command, "--silent"], site, cancellationToken: cancellationToken))
            .EnsureSuccess($"hexo {command}");

    private static void CopyTree(string from, string to, bool top)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            if (top && Skipped.Contains(Path.GetFileName(file))) continue;
            File.Copy(file, Path.Join(to, Path.GetFileName(file)));
        }
        foreach (var dir in Directory.EnumerateDirectories(from))
        {
            if (top && Skipped.Contains(Path.GetFileName(dir))) continue;
            CopyTree(dir, Path.Join(to, Path.GetFileName(dir)), top: false);
        }
    }
}
