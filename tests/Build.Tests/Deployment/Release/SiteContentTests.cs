using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Build.Deployment;
using Build.Deployment.Release;
using Build.Deployment.Reports;
using TestHosts;

namespace Build.Tests.Deployment.Release;

/// <summary>
/// Exactly the site goes out: only regular files and directories (symlinks inside resolved, out refused, FIFOs,
/// sockets and devices refused unopened), normalized modes, the bytes hashed and no others, any name, and linked
/// files proven unchanged since their release was sealed. Run under GNU tools and BusyBox through <see cref="LocalShell"/>.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class SiteContentTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void A_symlink_out_of_the_site_is_refused_naming_the_link_and_its_target()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        kit.Write("index.html", "home");
        var secret = Path.Join(Path.GetDirectoryName(kit.Site)!, "id_ed25519");
        File.WriteAllText(secret, "PRIVATE KEY");
        File.CreateSymbolicLink(Path.Join(kit.Site, "key.txt"), secret);

        var e = Assert.Throws<ReleaseException>(() => Manifest.Scan(kit.Site));
        Assert.Equal(ReleaseFailure.BadInput, e.Kind);
        Assert.Equal(2, e.ExitCode);
        Assert.Contains("key.txt", e.Message);
        Assert.Contains(secret, e.Message);
        Assert.Contains("outside the site directory", e.Message);

        // Through a relative link and a directory symlink on the way, the resolved target decides.
        File.Delete(Path.Join(kit.Site, "key.txt"));
        Directory.CreateDirectory(Path.Join(kit.Site, "a"));
        File.CreateSymbolicLink(Path.Join(kit.Site, "a", "up.txt"), "../../id_ed25519");
        e = Assert.Throws<ReleaseException>(() => Manifest.Scan(kit.Site));
        Assert.Contains("a/up.txt", e.Message);
        Assert.Contains("../../id_ed25519", e.Message);
        Assert.Equal(0, kit.Shell.Calls);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_symlink_inside_the_site_deploys_its_targets_content_as_a_regular_file(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Write("css/style.css", "body{}");
        kit.Write("index.html", "home");
        File.CreateSymbolicLink(Path.Join(kit.Site, "style.css"), "css/style.css");

        var result = await kit.DeployAsync().WaitAsync(Bound);

        Assert.Equal(Outcome.Deployed, result.Report.Outcome);
        var served = Path.Join(kit.Current, "style.css");
        Assert.Null(new FileInfo(served).LinkTarget);
        Assert.Equal("body{}", File.ReadAllText(served));
    }

    [Theory]
    [InlineData("fifo")]
    [InlineData("socket")]
    [InlineData("device")]
    public async Task A_fifo_socket_or_device_is_refused_unopened_naming_it(string kind)
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        kit.Write("index.html", "home");
        Directory.CreateDirectory(Path.Join(kit.Site, "x"));
        var path = Path.Join(kit.Site, "x", "special.html");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        switch (kind)
        {
            case "fifo":
                (await LocalProcess.RunAsync("mkfifo", [path])).EnsureSuccess("mkfifo");
                break;
            case "socket":
                socket.Bind(new UnixDomainSocketEndPoint(path));
                break;
            default:
                if (!LocalProcess.IsRoot) return; // mknod needs root; the other kinds cover the check
                (await LocalProcess.RunAsync("mknod", [path, "c", "1", "3"])).EnsureSuccess("mknod"); // like /dev/null
                break;
        }

        // Bounded: opening a FIFO would block until a writer appears; the scan never opens it.
        var e = await Assert.ThrowsAsync<ReleaseException>(() => kit.CandidateAsync().WaitAsync(Bound));
        Assert.Equal(2, e.ExitCode);
        Assert.Contains("x/special.html", e.Message);
        Assert.Contains(kind == "fifo" ? "FIFO" : kind == "socket" ? "socket" : "character device", e.Message);
        Assert.Equal(0, kit.Shell.Calls);
    }

    [Fact]
    public async Task A_file_replaced_by_a_fifo_after_the_scan_is_never_opened()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        kit.Write("index.html", "home");
        kit.Write("page.html", "page");
        var scan = Manifest.Scan(kit.Site);
        File.Delete(Path.Join(kit.Site, "page.html"));
        (await LocalProcess.RunAsync("mkfifo", [Path.Join(kit.Site, "page.html")])).EnsureSuccess("mkfifo");

        var e = await Assert.ThrowsAsync<ReleaseException>(() => Manifest.CreateAsync(scan, CancellationToken.None).WaitAsync(Bound));
        Assert.Contains("the site changed while deploying: page.html", e.Message);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task Modes_are_normalized_whatever_the_umask_on_either_side(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        // What a CI umask of 0000 produces locally.
        kit.Write("open/index.html", "world-writable", 0b110_110_110);
        kit.Write("open/run.sh", "#!/bin/sh", 0b111_111_111);
        kit.Write("group-x.bin", "x", 0b110_111_100);
        kit.Write("private.html", "owner only", 0b110_000_000);
        File.SetUnixFileMode(Path.Join(kit.Site, "open"), (UnixFileMode)0b111_111_111);
        // And the server's shell under umask 0000 too.
        kit.Shell.Umask = "0000";

        var candidate = await kit.CandidateAsync();
        Assert.All(candidate.Manifest.Entries, e => Assert.True(e.Mode is 0b110_100_100 or 0b111_101_101, $"{e.Path}: {Convert.ToString(e.Mode, 8)}"));
        await kit.DeployAsync(candidate).WaitAsync(Bound);

        UnixFileMode Mode(string path) => File.GetUnixFileMode(Path.Join(kit.Current, path));
        Assert.Equal((UnixFileMode)0b110_100_100, Mode("open/index.html"));
        Assert.Equal((UnixFileMode)0b111_101_101, Mode("open/run.sh"));
        Assert.Equal((UnixFileMode)0b111_101_101, Mode("group-x.bin"));
        Assert.Equal((UnixFileMode)0b110_100_100, Mode("private.html"));
        Assert.Equal((UnixFileMode)0b111_101_101, Mode("open"));
        foreach (var entry in Directory.EnumerateFileSystemEntries(kit.ReleaseDir(candidate.ReleaseId), "*", SearchOption.AllDirectories))
            Assert.True(((int)File.GetUnixFileMode(entry) & 0b000_010_010) == 0, $"{entry} is group- or other-writable");
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu, "grow")]
    [InlineData(ShellFlavor.BusyBox, "grow")]
    [InlineData(ShellFlavor.Gnu, "same-size")]
    [InlineData(ShellFlavor.Gnu, "shrink")]
    public async Task A_file_that_changes_after_hashing_stops_the_deploy_and_nothing_is_sealed(ShellFlavor flavor, string change)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(12, 200_000);
        kit.Write("index.html", "home");
        var first = await kit.DeployAsync().WaitAsync(Bound);
        kit.Write("big.bin", new string('a', 300_000));
        var candidate = await kit.CandidateAsync();
        var path = Path.Join(kit.Site, "big.bin");
        switch (change)
        {
            case "grow": File.AppendAllText(path, "more"); break;
            case "same-size": File.WriteAllText(path, new string('b', 300_000)); break;
            default: File.WriteAllText(path, "short"); break;
        }

        var failed = await kit.TryDeployAsync(candidate).WaitAsync(Bound);

        Assert.Equal(Outcome.Failed, failed.Report.Outcome);
        Assert.Contains("the site changed while deploying: big.bin", failed.Report.Error);
        Assert.Equal(first.Id(), kit.CurrentId());
        Assert.Equal([first.Id()], kit.ReleaseNames());
        Assert.False(File.Exists(Path.Join(kit.Root, ".deploy", "manifests", candidate.ReleaseId + ".sealed")));
    }

    [Fact]
    public async Task The_entry_stream_withholds_the_last_chunk_of_a_file_that_grew_while_it_was_read()
    {
        var entry = new ManifestEntry("grows.bin", 8, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("12345678"u8)), 0b110_100_100);
        // The file as it is at read time: the hashed 8 bytes and 4 more written since.
        using var file = new MemoryStream(Encoding.ASCII.GetBytes("123456789abc"));
        await using var content = new ReleaseStream.ExactContent(file, entry);
        Assert.Equal(8, content.Length);
        var buffer = new byte[5];
        Assert.Equal(5, await content.ReadAsync(buffer));
        var e = await Assert.ThrowsAsync<ReleaseException>(async () => await content.ReadAtLeastAsync(buffer, 3));
        Assert.Contains("the site changed while deploying: grows.bin", e.Message);

        // Exactly what was hashed passes.
        using var same = new MemoryStream("12345678"u8.ToArray());
        await using var exact = new ReleaseStream.ExactContent(same, entry);
        var copy = new MemoryStream();
        await exact.CopyToAsync(copy);
        Assert.Equal("12345678", Encoding.ASCII.GetString(copy.ToArray()));
    }

    public static readonly string[] OddNames =
    [
        "new\nline.html", "-leading-dash.html", "dir with space/it's \"quoted\".html", "café/naïve ünïcode €.html", "tab\there.html",
        "back\\slash.html", "question?.html", "-dash-dir/-x",
    ];

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    [InlineData(ShellFlavor.Minimal)]
    public async Task Any_name_the_file_system_allows_deploys_and_links(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(8, 500);
        foreach (var (name, i) in OddNames.Select((n, i) => (n, i)))
            kit.Write(name, $"content {i}");
        var first = await kit.DeployAsync().WaitAsync(Bound);
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);

        // A name whose tail looks like an ls line must not count as a file either.
        kit.Write("x\n-rw-r--r-- 1 0 0 99999 Jan  1 00:00 fake", "y");
        kit.Write("index.html", "changed");
        var second = await kit.DeployAsync().WaitAsync(Bound);
        Assert.Equal(2, second.Upload!.FilesSent);
        Assert.Equal(OddNames.Length + 8, second.Upload.FilesLinked);
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
        foreach (var name in OddNames)
            Assert.Equal(ReleaseTestKit.Inode(Path.Join(kit.ReleaseDir(first.Id()), name)), ReleaseTestKit.Inode(Path.Join(kit.ReleaseDir(second.Id()), name)));
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_file_edited_in_place_on_the_server_is_sent_again_with_a_warning_naming_it(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(10, 400);
        kit.Write("index.html", "<h1>home</h1>");
        kit.Write("new\nline.html", "<p>one</p>");
        kit.Write("café/ü.html", "<p>two</p>");
        var first = await kit.DeployAsync().WaitAsync(Bound);
        Assert.True(File.Exists(Path.Join(kit.Root, ".deploy", "manifests", first.Id() + ".sealed")));

        // An admin's hot fix with an editor that writes in place: same size, same inode, every release sharing it changes.
        foreach (var (name, text) in new[] { ("index.html", "<h1>HACK</h1>"), ("new\nline.html", "<p>ONE</p>"), ("café/ü.html", "<p>TWO</p>") })
            EditInPlace(Path.Join(kit.Current, name), text);

        var second = await kit.DeployAsync().WaitAsync(Bound);

        Assert.Equal(Outcome.Deployed, second.Report.Outcome); // the same site, but the live release no longer matches it
        Assert.Equal(["café/ü.html", "index.html", "new\nline.html"], second.Plan!.EditedOnServer.Order(StringComparer.Ordinal));
        Assert.Equal(3, second.Upload!.FilesSent);
        Assert.Equal(10, second.Upload.FilesLinked);
        Assert.Contains("index.html", second.Plan.Warning);
        Assert.Contains(first.Id(), second.Plan.Warning);
        Assert.Contains(kit.Progress.Lines, l => l.StartsWith("local: warning edited on the server", StringComparison.Ordinal) && l.Contains("new\\nline.html", StringComparison.Ordinal));
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
        Assert.NotEqual(ReleaseTestKit.Inode(Path.Join(kit.ReleaseDir(first.Id()), "index.html")), ReleaseTestKit.Inode(Path.Join(kit.Current, "index.html")));

        // The new release is sealed after its files arrived: nothing in it counts as edited.
        var third = await kit.DeployAsync().WaitAsync(Bound);
        Assert.Equal(Outcome.Unchanged, third.Report.Outcome);
        Assert.Empty(third.Plan!.EditedOnServer);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_file_edited_on_the_server_is_sent_again_when_the_site_changed_too(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(10, 400);
        kit.Write("index.html", "<h1>home</h1>");
        kit.Write("about.html", "<p>about</p>");
        var first = await kit.DeployAsync().WaitAsync(Bound);
        EditInPlace(Path.Join(kit.Current, "about.html"), "<p>HACK!</p>");
        kit.Write("index.html", "<h1>home, new</h1>");

        var state = await kit.Session().InspectAsync(withManifest: true, CancellationToken.None);
        Assert.Equal(["about.html"], state.EditedOnServer); // a look (--plan) always lists them
        var second = await kit.DeployAsync().WaitAsync(Bound);

        Assert.Equal(Outcome.Deployed, second.Report.Outcome);
        Assert.Equal(["about.html"], second.Plan!.EditedOnServer);
        Assert.Equal(2, second.Upload!.FilesSent);
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
        Assert.Equal("<p>about</p>", File.ReadAllText(Path.Join(kit.Current, "about.html")));
        Assert.Contains(kit.Progress.Lines, l => l.StartsWith("local: warning edited on the server", StringComparison.Ordinal) && l.Contains("about.html", StringComparison.Ordinal));
        // GNU find: the lock left the edited files to the upload's seal, which found one and stopped before sealing;
        // the plan was made again with them listed. BusyBox: listed at the lock, as always.
        var stopped = kit.Progress.Lines.Where(l => l.Contains("were edited on the server since it was sealed", StringComparison.Ordinal)).ToList();
        Assert.Equal(flavor == ShellFlavor.Gnu ? 1 : 0, stopped.Count);
        Assert.Equal([first.Id(), second.Id()], Directory.GetDirectories(Path.Join(kit.Root, "releases")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_lock_leaves_the_edited_files_to_the_seal_only_where_gnu_find_can_look(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(10, 400);
        kit.Write("index.html", "<h1>home</h1>");
        await kit.DeployAsync().WaitAsync(Bound);
        EditInPlace(Path.Join(kit.Current, "index.html"), "<h1>HACK</h1>");

        using var session = kit.Session();
        var deferred = await session.PrepareDeployAsync(CancellationToken.None);
        await session.ReleaseLockAsync(CancellationToken.None);
        var listed = await session.PrepareDeployAsync(CancellationToken.None, walkEdits: true);
        await session.ReleaseLockAsync(CancellationToken.None);

        Assert.Equal(flavor == ShellFlavor.Gnu, deferred.EditsAtSeal);
        Assert.Equal(flavor == ShellFlavor.Gnu ? [] : ["index.html"], deferred.EditedOnServer);
        Assert.False(listed.EditsAtSeal);
        Assert.Equal(["index.html"], listed.EditedOnServer);
    }

    [Theory]
    [InlineData(ShellFlavor.Gnu)]
    [InlineData(ShellFlavor.BusyBox)]
    public async Task A_release_without_a_seal_marker_is_never_linked_from(ShellFlavor flavor)
    {
        using var kit = new ReleaseTestKit(flavor);
        kit.Generate(10, 400);
        kit.Write("index.html", "home");
        var first = await kit.DeployAsync().WaitAsync(Bound);
        File.Delete(Path.Join(kit.Root, ".deploy", "manifests", first.Id() + ".sealed")); // as an older deploy left it

        var state = await kit.Session().InspectAsync(withManifest: true, CancellationToken.None);
        Assert.Null(state.CurrentManifest);
        Assert.Contains("no seal marker", state.ManifestProblem);

        kit.Write("index.html", "home, edited");
        var second = await kit.DeployAsync().WaitAsync(Bound);
        Assert.Equal(11, second.Upload!.FilesSent);
        Assert.Equal(0, second.Upload.FilesLinked);
        ReleaseTestKit.AssertSameTree(kit.Site, kit.Current);
    }

    [Fact]
    public void Listed_names_match_the_manifest_however_ls_escaped_them()
    {
        // GNU ls -q in the C locale: one '?' per byte of a non-ASCII character or control character.
        Assert.Equal(DeltaPlan.ListedForm("caf\u00e9/\u00fc.html"), DeltaPlan.ListedForm("caf??/??.html"));
        Assert.Equal(DeltaPlan.ListedForm("new\nline.html"), DeltaPlan.ListedForm("new?line.html"));
        // BusyBox prints UTF-8 as is.
        Assert.Equal(DeltaPlan.ListedForm("caf\u00e9/\u00fc.html"), DeltaPlan.ListedForm("caf\u00e9/\u00fc.html"));
        Assert.NotEqual(DeltaPlan.ListedForm("a.html"), DeltaPlan.ListedForm("b.html"));

        var current = new Manifest([Entry("a.html", "a"), Entry("new\nline.html", "b"), Entry("other.html", "c")]);
        var plan = DeltaPlan.Compute(current, "20260101T000000Z-00000000", current, ["new?line.html", "not-in-the-manifest"]);
        Assert.False(plan.Unchanged);
        Assert.Equal(["new\nline.html"], plan.Send.Select(e => e.Path));
        Assert.Equal(["new\nline.html"], plan.EditedOnServer);
        Assert.DoesNotContain("\n", plan.Warning);
    }

    private static ManifestEntry Entry(string path, string hex) => new(path, 1, new string(hex[0], 64), 0b110_100_100);

    private static void EditInPlace(string path, string text)
    {
        var inode = ReleaseTestKit.Inode(path);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
            stream.Write(Encoding.UTF8.GetBytes(text));
        Assert.Equal(inode, ReleaseTestKit.Inode(path));
        // BusyBox find compares whole seconds: an edit made within the second of the seal would not count.
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(2));
    }
}
