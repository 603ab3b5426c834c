using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Build.Sandbox;
using Build.Tests.Support;

namespace Build.Tests.Sandbox;

/// <summary>
/// A temporary repository the pipeline program runs in (its working directory is the repository
/// root, so <c>.sandbox/</c> lands here): optionally with a copy of the blog's sources, as a fresh
/// clone has them. Disposing stops its sandbox and removes it.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed partial class SandboxRepo : IAsyncDisposable
{
    public SandboxRepo(bool withSiteSources)
    {
        Root = Directory.CreateTempSubdirectory("sandbox-repo-").FullName;
        // The login account reaches the remote roots and authorized_keys through here.
        File.SetUnixFileMode(Root, (UnixFileMode)0b111_101_101);
        if (withSiteSources) CopySources(Repo.File("site"), Path.Join(Root, "site"));
    }

    public string Root { get; }

    public string SandboxDirectory => Path.Join(Root, ".sandbox");

    public SandboxState? State => SandboxState.Load(Path.Join(SandboxDirectory, "sandbox.json"));

    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(6);

    public Task<PipelineRun> RunAsync(params string[] arguments) =>
        PipelineProcess.RunAsync(arguments, Root, new Dictionary<string, string>(), Timeout);

    /// <summary>The URLs the Sandbox target printed, in order.</summary>
    public static IReadOnlyList<string> Urls(PipelineRun run) =>
        UrlLine().Matches(run.Stdout).Select(m => m.Groups[1].Value).ToList();

    public JsonNode Report() => JsonNode.Parse(File.ReadAllText(Path.Join(Root, "artifacts", "deploy-report.json")))!;

    /// <summary>Processes whose command line names this repository (sshd, nginx masters and anything else started from here).</summary>
    public IReadOnlyList<int> ProcessesNamingRoot()
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Join(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(SandboxDirectory, StringComparison.Ordinal) && Daemons.IsAlive(pid, null)) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone while listing.
            }
        }
        return found;
    }

    public async ValueTask DisposeAsync()
    {
        if (State is { } state && state.Daemons.Any()) await RunAsync("--target=SandboxStop");
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static void CopySources(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var dir in Directory.EnumerateDirectories(from))
        {
            if (Path.GetFileName(dir) is "node_modules" or "public" or ".deploy_git") continue;
            CopySources(dir, Path.Join(to, Path.GetFileName(dir)));
        }
        foreach (var file in Directory.EnumerateFiles(from))
        {
            if (Path.GetFileName(file) != "db.json") File.Copy(file, Path.Join(to, Path.GetFileName(file)));
        }
    }

    [GeneratedRegex(@"^\s+server\d\s+(http://\S+)\s", RegexOptions.Multiline)]
    private static partial Regex UrlLine();
}

/// <summary>
/// One sandbox for the collection, started the way a newcomer starts it: <c>--target=Sandbox</c> in a
/// repository with the blog's sources and nothing built (npm ci, Hexo, deploy to both servers).
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class SandboxFixture : IAsyncLifetime
{
    public SandboxRepo Repo { get; } = new(withSiteSources: true);

    public PipelineRun FirstRun { get; private set; } = null!;

    /// <summary>The blog the first run built, for tests that start other sandboxes with --site-dir.</summary>
    public string BuiltSite => Path.Join(Repo.Root, "site", "public");

    public async Task InitializeAsync() => FirstRun = await Repo.RunAsync("--target=Sandbox");

    public async Task DisposeAsync() => await Repo.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class SandboxCollection : ICollectionFixture<SandboxFixture>
{
    public const string Name = "Sandbox";
}
