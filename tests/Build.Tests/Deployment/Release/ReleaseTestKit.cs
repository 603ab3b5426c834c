using System.Diagnostics;
using Build.Deployment.Release;
using Microsoft.Extensions.Time.Testing;

using System.Runtime.Versioning;

namespace Build.Tests.Deployment.Release;

/// <summary>A site directory and a "server" root on this machine, plus helpers to deploy and inspect.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class ReleaseTestKit : IDisposable
{
    private readonly string workspace;

    public ReleaseTestKit(ShellFlavor flavor, int? runAsUid = null)
    {
        workspace = Directory.CreateTempSubdirectory("release-test-").FullName;
        File.SetUnixFileMode(workspace, (UnixFileMode)0b111_101_101);
        Site = Path.Join(workspace, "site");
        Root = Path.Join(workspace, "server", "www");
        Directory.CreateDirectory(Site);
        Shell = new LocalShell(flavor, runAsUid);
        Run = new ReleaseRun("run-test-1", "testhost", 4242, "tester", "https://ci.example/job/1", "https://ci.example/pipeline/1");
    }

    public string Site { get; }

    public string Root { get; }

    public LocalShell Shell { get; set; }

    public ReleaseRun Run { get; set; }

    /// <summary>Each candidate one minute after the previous, so release ids sort in deploy order.</summary>
    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    /// <summary>Small sites here: uploads of more than a handful of files go in three parallel parts, as large ones do in production.</summary>
    public ReleaseOptions Options { get; set; } = new()
    {
        KeepReleases = 5, LockWait = TimeSpan.FromSeconds(5), LockPoll = TimeSpan.FromMilliseconds(50), UploadStreams = 3, MinFilesPerStream = 4,
    };

    public string Current => Path.Join(Root, "current");

    public ReleaseSession Session(ReleaseRun? run = null, TimeProvider? time = null) =>
        new(Shell, Root, run ?? Run, Options, time ?? Time);

    public async Task<ReleaseCandidate> CandidateAsync(string commit = "abc123")
    {
        Time.Advance(TimeSpan.FromMinutes(1));
        return await ReleaseCandidate.CreateAsync(Site, commit, Time, CancellationToken.None);
    }

    public async Task<DeployResult> DeployAsync(ReleaseRun? run = null)
    {
        var candidate = await CandidateAsync();
        return await Session(run).DeployAsync(candidate, CancellationToken.None);
    }

    public void Write(string path, string content, int mode = 0b110_100_100)
    {
        var full = Path.Join(Site, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        File.SetUnixFileMode(full, (UnixFileMode)mode);
    }

    /// <summary>A Hexo-like tree: posts in dated folders, tags, assets.</summary>
    public void Generate(int files, int bytesPerFile, int seed = 1)
    {
        var random = new Random(seed);
        var buffer = new byte[bytesPerFile];
        for (var i = 0; i < files; i++)
        {
            var path = (i % 4) switch
            {
                0 => $"2025/{i % 12 + 1:00}/post-{i}/index.html",
                1 => $"tags/tag-{i % 50}/page-{i}/index.html",
                2 => $"archives/{i % 7}/{i}.html",
                _ => $"assets/img-{i}.bin",
            };
            random.NextBytes(buffer);
            var full = Path.Join(Site, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, buffer);
        }
    }

    public string ReleaseDir(string id) => Path.Join(Root, "releases", id);

    public string? CurrentId()
    {
        var info = new FileInfo(Current);
        return info.LinkTarget is { } target ? Path.GetFileName(target) : null;
    }

    public string[] ReleaseNames() =>
        Directory.Exists(Path.Join(Root, "releases"))
            ? Directory.GetFileSystemEntries(Path.Join(Root, "releases")).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray()
            : [];

    /// <summary>Every file under <paramref name="directory"/>: relative path, content, mode.</summary>
    public static SortedDictionary<string, (byte[] Content, UnixFileMode Mode)> Tree(string directory)
    {
        var result = new SortedDictionary<string, (byte[], UnixFileMode)>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(directory, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
            result[Path.GetRelativePath(directory, file).Replace('\\', '/')] = (File.ReadAllBytes(file), File.GetUnixFileMode(file));
        return result;
    }

    /// <summary>A release's files without the release marker the server adds: what compares with the site it was made of.</summary>
    public static SortedDictionary<string, (byte[] Content, UnixFileMode Mode)> ReleaseTree(string release)
    {
        var tree = Tree(release);
        tree.Remove(Build.Deployment.Health.ReleaseMarker.DefaultPath);
        return tree;
    }

    /// <summary>
    /// The release at <paramref name="actual"/> holds exactly the site at <paramref name="expected"/>, plus the release
    /// marker the server writes (its content is the release id: the directory's name).
    /// </summary>
    public static void AssertSameTree(string expected, string actual)
    {
        var want = Tree(expected);
        var got = Tree(actual);
        var marker = Build.Deployment.Health.ReleaseMarker.DefaultPath;
        if (!want.ContainsKey(marker) && got.Remove(marker, out var written))
        {
            var id = Path.GetFileName(new DirectoryInfo(actual).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? actual);
            Assert.Equal(id + "\n", System.Text.Encoding.UTF8.GetString(written.Content));
        }
        Assert.Equal(want.Keys, got.Keys);
        foreach (var (path, (content, mode)) in want)
        {
            Assert.True(content.AsSpan().SequenceEqual(got[path].Content), $"content of {path}");
            Assert.Equal(mode, got[path].Mode);
        }
    }

    public static long Inode(string path)
    {
        var start = new ProcessStartInfo("stat") { RedirectStandardOutput = true };
        foreach (var a in new[] { "-c", "%i", "--", path })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        return long.Parse(text.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        Shell.Dispose();
        try
        {
            Directory.Delete(workspace, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
