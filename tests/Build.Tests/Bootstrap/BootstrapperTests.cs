using System.Diagnostics;
using Build.Tests.Support;

namespace Build.Tests.Bootstrap;

/// <summary>
/// build.sh and build.ps1 against a fake <c>dotnet</c> that records builds and runs: they
/// build only when a source changed, was added or was deleted, and pass the exit code through.
/// </summary>
public abstract class BootstrapperTests : IDisposable
{
    private readonly TempDir _dir = new("bootstrap");

    protected BootstrapperTests(string script)
    {
        Script = script;
        File.Copy(Path.Join(Repo.Root, script), Path.Join(Root, script));
        _dir.File("global.json", "{}");
        _dir.File("Directory.Build.props", "<Project />");
        _dir.File("build/Build.csproj", "<Project />");
        _dir.File("build/Program.cs", "// program");
        _dir.File("build/Tasks/A.cs", "// a");
        _dir.File("build/bin/Ignored.cs", "// build output is not a source");
        _dir.File("site/readme.md", "not a source of the pipeline");
        // The fake SDK: `dotnet build|publish ... --output DIR` records a build (and can be held with a
        // gate file so concurrent runs overlap); `dotnet DIR/Build.dll ARGS` prints its args.
        var fake = _dir.File("fakebin/dotnet", """
            #!/bin/sh
            if [ "$1" = build ] || [ "$1" = publish ]; then
              echo "build $*" >> "$FAKE_LOG"
              printf '%s' "${NUGET_PACKAGES:-}" > "$FAKE_LOG.nuget"
              if [ -n "$FAKE_GATE" ]; then echo building > "$FAKE_GATE.started"; n=0; while [ ! -e "$FAKE_GATE" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done; fi
              if [ -n "$FAKE_CS_ERROR" ]; then echo "Program.cs(1,1): error CS1002: ; expected"; exit 1; fi
              self=no; case " $* " in *" --self-contained true "*) self=yes ;; esac
              # A publish that leaves the project's PublishAot on compiles one native executable.
              native=no; case " $* " in *" publish "*"PublishAot=false"*) ;; " publish "*) native=yes ;; esac
              if [ "$native" = yes ] && [ -n "$FAKE_NO_LINKER" ]; then echo "error : Platform linker ('clang' or 'gcc') not found in PATH."; exit 1; fi
              if [ "$self" = yes ] && [ -n "$FAKE_NO_RUNTIME_PACK" ]; then echo "error NU1101: Unable to find package Microsoft.NETCore.App.Runtime"; exit 1; fi
              while [ $# -gt 0 ]; do if [ "$1" = --output ]; then out="$2"; fi; shift; done
              mkdir -p "$out"
              if [ "$native" = yes ]; then printf '#!/bin/sh\necho "native ran $*"\n' > "$out/Build"; chmod +x "$out/Build"; exit 0; fi
              echo dll > "$out/Build.dll"
              # A self-contained publish leaves the program's own host beside it.
              if [ "$self" = yes ] && [ -n "$FAKE_APPHOST" ]; then printf '#!/bin/sh\necho "apphost ran $*"\n' > "$out/Build"; chmod +x "$out/Build"; fi
              exit 0
            fi
            echo "ran $*"
            exit "${FAKE_EXIT:-0}"
            """);
        File.SetUnixFileMode(fake, (UnixFileMode)0b111_101_101);
        // The SDKs installed beside the fake dotnet, which the stamp covers.
        Directory.CreateDirectory(Path.Join(Root, "fakebin", "sdk", "10.0.100"));
        // A PATH with the usual tools but no dotnet, so "no SDK" can be tested on a machine with one.
        var tools = Directory.CreateDirectory(Path.Join(Root, "toolbin")).FullName;
        foreach (var tool in new[] { "sh", "bash", "find", "stat", "sort", "cat", "mkdir", "rmdir", "ls", "cksum", "dirname", "readlink", "sleep", "printf", "rm", "uname", "chmod" })
        {
            var target = new[] { "/usr/bin/", "/bin/" }.Select(d => d + tool).FirstOrDefault(File.Exists);
            if (target is not null) File.CreateSymbolicLink(Path.Join(tools, tool), target);
        }
    }

    protected string Script { get; }

    protected string Root => _dir.Path;

    private string Log => Path.Join(Root, "dotnet.log");

    protected int Builds => File.Exists(Log) ? File.ReadAllLines(Log).Length : 0;

    public void Dispose() => _dir.Dispose();

    protected abstract ProcessStartInfo Start(IEnumerable<string> args);

    protected Task<(int Code, string Output)> Run(IDictionary<string, string>? env = null, bool withDotnet = true, params string[] args) =>
        Run(env, withDotnet, _ => { }, args);

    private async Task<(int Code, string Output)> Run(IDictionary<string, string>? env, bool withDotnet, Action<string> onLine, params string[] args)
    {
        var info = Start(args);
        info.RedirectStandardOutput = info.RedirectStandardError = true;
        info.WorkingDirectory = Path.GetTempPath();
        info.Environment["FAKE_LOG"] = Log;
        var path = Path.Join(Root, "toolbin");
        info.Environment["PATH"] = withDotnet ? Path.Join(Root, "fakebin") + ":" + path : path;
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) info.Environment[k] = v;
        using var process = new Process { StartInfo = info };
        var output = new System.Text.StringBuilder();
        void Collect(string? line)
        {
            if (line is null) return;
            lock (output) output.AppendLine(line);
            onLine(line);
        }
        process.OutputDataReceived += (_, e) => Collect(e.Data);
        process.ErrorDataReceived += (_, e) => Collect(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        process.WaitForExit();
        lock (output) return (process.ExitCode, output.ToString());
    }

    private void Touch(string relative, string content)
    {
        var path = Path.Join(Root, relative);
        File.WriteAllText(path, content);
        // Sizes may not change: move the time on too, as an editor would.
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5));
    }

    [Fact]
    public async Task Builds_once_then_runs_the_built_program_with_the_arguments()
    {
        var first = await Run(null, true, "--target=Build", "--server=a b");
        Assert.Equal(0, first.Code);
        Assert.Contains("ran .build/bin/Build.dll --target=Build --server=a b", first.Output.Replace('\\', '/'));
        Assert.Equal(1, Builds);

        var second = await Run(null, true, "--target=Build");
        Assert.Equal(0, second.Code);
        Assert.Equal(1, Builds);
        Assert.DoesNotContain("building", second.Output);
    }

    [Theory]
    [InlineData("changed")]
    [InlineData("added")]
    [InlineData("deleted")]
    [InlineData("props")]
    public async Task A_changed_added_or_deleted_source_triggers_a_build(string change)
    {
        await Run();
        Assert.Equal(1, Builds);

        // Build output and non-sources never count.
        Touch("build/bin/Ignored.cs", "// new output");
        Touch("site/readme.md", "edited");
        await Run();
        Assert.Equal(1, Builds);

        switch (change)
        {
            case "changed": Touch("build/Tasks/A.cs", "// A"); break;
            case "added": _dir.File("build/Tasks/B.cs", "// b"); break;
            case "deleted": File.Delete(Path.Join(Root, "build/Tasks/A.cs")); break;
            case "props": Touch("Directory.Build.props", "<Project><!-- x --></Project>"); break;
        }
        await Run();
        Assert.Equal(2, Builds);
    }

    [Fact]
    public async Task A_fresh_clone_with_the_compiled_output_restored_builds_nothing()
    {
        await Run();
        Assert.Equal(1, Builds);

        // A clone writes every file anew: same content, new times. Only content counts.
        foreach (var file in Directory.GetFiles(Root, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/.build/", StringComparison.Ordinal)))
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(3));
        var again = await Run();

        Assert.Equal(0, again.Code);
        Assert.Equal(1, Builds);
    }

    [Fact]
    public async Task Another_SDK_beside_dotnet_triggers_a_build()
    {
        await Run();
        Assert.Equal(1, Builds);

        Directory.CreateDirectory(Path.Join(Root, "fakebin", "sdk", "10.0.200"));
        await Run();

        Assert.Equal(2, Builds);
    }

    [Theory]
    [InlineData("cache/packages", true)]
    [InlineData("/opt/cache/packages", false)]
    public async Task A_relative_NUGET_PACKAGES_is_made_absolute_from_where_the_script_was_run(string value, bool relative)
    {
        // NuGet refuses a relative package folder; the tests run the script from the temp directory.
        var result = await Run(new Dictionary<string, string> { ["NUGET_PACKAGES"] = value });

        Assert.Equal(0, result.Code);
        var expected = relative ? Path.GetFullPath(value, Path.GetTempPath()) : value;
        Assert.Equal(expected, File.ReadAllText(Log + ".nuget"));
    }

    [Fact]
    public async Task The_exit_code_is_passed_through()
    {
        var result = await Run(new Dictionary<string, string> { ["FAKE_EXIT"] = "3" });
        Assert.Equal(3, result.Code);
    }

    [Fact]
    public async Task A_missing_sdk_is_named()
    {
        var result = await Run(null, withDotnet: false);
        Assert.Equal(2, result.Code);
        Assert.Contains(".NET 10 SDK", result.Output);
        Assert.Equal(0, Builds);
    }

    [Fact]
    public async Task Concurrent_runs_build_once()
    {
        var gate = Path.Join(Root, "gate");
        var env = new Dictionary<string, string> { ["FAKE_GATE"] = gate };
        var first = Run(env);
        try
        {
            await WaitFor(() => File.Exists(gate + ".started"));
            var waiting = new TaskCompletionSource();
            var second = Run(env, true, line => { if (line.Contains("waiting for another build")) waiting.TrySetResult(); });
            await waiting.Task.WaitAsync(TimeSpan.FromSeconds(60));
            File.WriteAllText(gate, "go");
            var results = await Task.WhenAll(first, second);
            Assert.All(results, r => Assert.Equal(0, r.Code));
            Assert.Equal(1, Builds);
        }
        finally
        {
            // Never leave a fake build waiting on its gate.
            File.WriteAllText(gate, "go");
        }
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met");
            await Task.Delay(20);
        }
    }
}

public sealed class BuildShTests() : BootstrapperTests("build.sh")
{
    private string[] Compiles => File.ReadAllLines(Path.Join(Root, "dotnet.log"));

    [ComposesFact]
    public async Task With_a_C_toolchain_compiles_one_native_executable_first_and_runs_it()
    {
        WithCompiler();

        var result = await Run(null, true, "--target=Deploy");

        Assert.Equal(0, result.Code);
        var compile = Assert.Single(Compiles);
        Assert.StartsWith("build publish --runtime linux-", compile);
        Assert.DoesNotContain("PublishAot=false", compile);
        Assert.DoesNotContain("--self-contained", compile);
        Assert.Contains("native ran --target=Deploy", result.Output);

        // The native executable alone (no Build.dll) is up to date on the next run.
        var again = await Run(null, true, "--target=Build");
        Assert.Single(Compiles);
        Assert.Contains("native ran --target=Build", again.Output);
    }

    [ComposesFact]
    public async Task A_native_compile_that_fails_falls_back_to_a_composite_with_the_same_restore()
    {
        WithCompiler();

        var result = await Run(new Dictionary<string, string> { ["FAKE_NO_LINKER"] = "1", ["FAKE_APPHOST"] = "1" }, true, "--target=Build");

        Assert.Equal(0, result.Code);
        Assert.Contains("could not compile the pipeline as native", result.Output);
        Assert.Equal(2, Compiles.Length);
        // Native AOT off for the build, on for the restore: the packages restored are the ones the lock files hold.
        Assert.Contains("-p:PublishAot=false -rp:PublishAot=true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true", Compiles[1]);
        Assert.Contains("apphost ran --target=Build", result.Output);
    }

    // build.sh compiles natively only where it finds a C compiler to link with; the tests' PATH has none unless given.
    private void WithCompiler()
    {
        var gcc = Path.Join(Root, "toolbin", "gcc");
        File.WriteAllText(gcc, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(gcc, (UnixFileMode)0b111_101_101);
    }

    [ComposesFact]
    public async Task Without_a_C_toolchain_compiles_composite_and_self_contained_first_and_starts_it_through_its_own_host()
    {
        var result = await Run(new Dictionary<string, string> { ["FAKE_APPHOST"] = "1" }, true, "--target=Deploy");

        Assert.Equal(0, result.Code);
        var compile = Assert.Single(Compiles);
        Assert.Contains("--self-contained true", compile);
        Assert.Contains("-p:PublishReadyToRunComposite=true", compile);
        Assert.Contains("apphost ran --target=Deploy", result.Output);
    }

    [ComposesFact]
    public async Task An_SDK_without_the_packs_for_one_way_falls_back_to_the_next()
    {
        var result = await Run(new Dictionary<string, string> { ["FAKE_NO_RUNTIME_PACK"] = "1", ["FAKE_APPHOST"] = "1" }, true, "--target=Build");

        Assert.Equal(0, result.Code);
        Assert.Contains("could not compile the pipeline as composite", result.Output);
        Assert.Equal(2, Compiles.Length);
        Assert.Contains("--self-contained false -p:PublishAot=false -rp:PublishAot=true -p:PublishReadyToRun=true", Compiles[1]);
        Assert.Contains("ran .build/bin/Build.dll --target=Build", result.Output.Replace('\\', '/'));
    }

    [Fact]
    public async Task Errors_in_the_sources_are_reported_without_trying_other_ways()
    {
        var result = await Run(new Dictionary<string, string> { ["FAKE_CS_ERROR"] = "1" }, true, "--target=Build");

        Assert.Equal(1, result.Code);
        Assert.Single(Compiles);
        Assert.Contains("error CS1002", result.Output);
        Assert.Contains("failed to build", result.Output);
        Assert.DoesNotContain("ran ", result.Output);
    }

    protected override ProcessStartInfo Start(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("/bin/bash") { ArgumentList = { Path.Join(Root, Script) } };
        foreach (var a in args) info.ArgumentList.Add(a);
        return info;
    }
}

public sealed class BuildPs1Tests() : BootstrapperTests("build.ps1")
{
    protected override ProcessStartInfo Start(IEnumerable<string> args)
    {
        // pwsh itself runs on the real runtime; the script under test only sees the fake dotnet on PATH.
        var info = new ProcessStartInfo(PowerShell.Dotnet) { ArgumentList = { PowerShell.Dll, "-NoLogo", "-NoProfile", "-File", Path.Join(Root, Script) } };
        foreach (var a in args) info.ArgumentList.Add(a);
        return info;
    }
}

/// <summary>build.sh compiles a native or composite, self-contained program only on Linux x64/arm64 with glibc.</summary>
public sealed class ComposesFactAttribute : FactAttribute
{
    public ComposesFactAttribute()
    {
        var linux = OperatingSystem.IsLinux()
            && System.Runtime.InteropServices.RuntimeInformation.OSArchitecture is System.Runtime.InteropServices.Architecture.X64 or System.Runtime.InteropServices.Architecture.Arm64;
        if (!linux || Directory.EnumerateFiles("/lib", "ld-musl-*").Any())
            Skip = "build.sh compiles a native or composite, self-contained program only on Linux x64/arm64 with glibc";
    }
}
