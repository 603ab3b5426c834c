using System.Diagnostics;
using System.Runtime.Versioning;
using Build.Deployment;
using Build.Deployment.Release;
using Build.Deployment.Reports;
using Build.Settings;
using Microsoft.Extensions.Time.Testing;

namespace Build.Tests.Deployment.Release;

/// <summary>
/// A site directory and a "server" root on this machine, plus helpers to deploy (through the production path: a
/// <see cref="FanOut"/> of one server whose connection is a <see cref="LocalShell"/>) and to inspect.
/// </summary>
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

    public RemoteRoot RemoteRoot => RemoteRoot.Of(Root);

    /// <summary>
    /// A connection cut by <see cref="LocalShell.CutAfterBytes"/> stays dead; the next connect gets a fresh shell, as a
    /// reconnect would, unless this is false: then the server is unreachable from the cut on (the client died with it).
    /// </summary>
    public bool ReconnectsAfterCut { get; set; } = true;

    /// <summary>Phases and messages of the kit's deploys.</summary>
    public RecordingProgress Progress { get; } = new();

    public ReleaseSession Session(ReleaseRun? run = null, TimeProvider? time = null) =>
        new(Shell, RemoteRoot, run ?? Run, Options, time ?? Time);

    /// <summary>Connects to the kit's "server": the current shell, or a fresh one after a cut.</summary>
    public ConnectServer Connect(LocalShell? shell = null) => (_, _) =>
    {
        if (shell is null && Shell.Dead)
        {
            if (!ReconnectsAfterCut) throw new IOException("Connection refused (simulated)");
            Shell = new LocalShell(Shell.Flavor, Shell.RunAsUid);
        }
        return Task.FromResult(new ServerLink(shell ?? Shell, new NoConnection()));
    };

    /// <summary>
    /// One deploy through the production path (lifecycle, retries, clean-up); the server's deploy whatever its outcome.
    /// A cancelled deploy throws, as the fan-out does.
    /// </summary>
    public async Task<ServerDeploy> TryDeployAsync(ReleaseCandidate? candidate = null, ReleaseRun? run = null, LocalShell? shell = null,
        ReleaseOptions? options = null, TimeProvider? time = null, int attempts = 1, CancellationToken cancellationToken = default)
    {
        candidate ??= await CandidateAsync();
        var fanOut = new FanOut([new DeployTarget("local", "127.0.0.1")], Connect(shell), run ?? Run, options ?? Options,
            new FanOutOptions { RemoteRoot = RemoteRoot, Attempts = attempts, RetryDelay = TimeSpan.FromMilliseconds(10), Switch = SwitchMode.Independent },
            Progress, time ?? Time);
        var report = new DeployReport { Operation = "deploy", StartedAt = DateTimeOffset.UnixEpoch, ReleaseId = candidate.ReleaseId };
        var result = await fanOut.DeployAsync(Task.FromResult(candidate), report, cancellationToken);
        return Assert.Single(result.Servers);
    }

    /// <summary><see cref="TryDeployAsync"/> that expects the server deployed or unchanged.</summary>
    public async Task<ServerDeploy> DeployAsync(ReleaseCandidate? candidate = null, ReleaseRun? run = null, LocalShell? shell = null,
        ReleaseOptions? options = null, TimeProvider? time = null)
    {
        var deploy = await TryDeployAsync(candidate, run, shell, options, time);
        Assert.True(deploy.Stage == ServerStage.Finished, $"{deploy.Stage}: {deploy.Report.Error}\n{Progress}");
        return deploy;
    }

    public async Task<ReleaseCandidate> CandidateAsync(string commit = "abc123")
    {
        Time.Advance(TimeSpan.FromMinutes(1));
        return await ReleaseCandidate.CreateAsync(Site, commit, Time, CancellationToken.None);
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

    public static void AssertSameTree(string expected, string actual)
    {
        var want = Tree(expected);
        var got = Tree(actual);
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

    private sealed class NoConnection : IDisposable
    {
        public void Dispose()
        {
        }
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

/// <summary>Short forms for the kit's tests.</summary>
public static class ServerDeployFacts
{
    /// <summary>The release the server serves after the deploy.</summary>
    public static string Id(this ServerDeploy deploy) => deploy.Report.ReleaseId ?? throw new InvalidOperationException($"{deploy.Name} serves no known release: {deploy.Report.Error}");
}
