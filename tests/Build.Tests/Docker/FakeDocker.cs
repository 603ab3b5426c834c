namespace Build.Tests.Docker;

/// <summary>
/// A fake <c>docker</c> on a PATH directory of its own: a shell script that records each call's
/// arguments (NUL-separated) and stdin, and plays a registry: <c>manifest inspect</c> succeeds
/// only for images listed in the <c>registry</c> file, which <c>push</c> appends to.
/// </summary>
public sealed class FakeDocker : IDisposable
{
    private const string Script = """
        #!/bin/sh
        here=$(cd "$(dirname "$0")" && pwd)
        n=$(find "$here/calls" -name '*.argv' | wc -l | tr -d ' ')
        call=$(printf '%s/calls/%03d' "$here" "$n")
        printf '%s\0' "$@" > "$call.argv"
        cat > "$call.stdin"
        case "$1" in
          login) echo "Login Succeeded" ;;
          logout) echo "Removing login credentials for ${2:-default}" ;;
          manifest)
            image=""
            for arg in "$@"; do image="$arg"; done
            if [ -f "$here/registry" ] && grep -qxF "$image" "$here/registry"; then
              echo '{"schemaVersion": 2}'
            else
              echo "no such manifest: $image" >&2
              exit 1
            fi ;;
          build)
            if [ -f "$here/fail-build" ]; then echo "ERROR: failed to solve: apk add: exit code 1" >&2; exit 1; fi
            echo "#1 naming to image done" ;;
          push)
            image=""
            for arg in "$@"; do image="$arg"; done
            echo "$image" >> "$here/registry"
            echo "$image: digest: sha256:0000 size: 1234" ;;
        esac
        exit 0
        """;

    public FakeDocker()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("fake-docker-").FullName;
        System.IO.Directory.CreateDirectory(Path.Join(Directory, "calls"));
        Executable = Path.Join(Directory, "docker");
        File.WriteAllText(Executable, Script.ReplaceLineEndings("\n") + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Executable, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>The directory holding <c>docker</c>: put it first on a PATH value.</summary>
    public string Directory { get; }

    public string Executable { get; }

    public string PathValue => Directory + Path.PathSeparator + "/usr/bin" + Path.PathSeparator + "/bin";

    /// <summary>Images the registry already has.</summary>
    public void Publish(string image) => File.AppendAllText(Path.Join(Directory, "registry"), image + "\n");

    public void FailBuilds() => File.WriteAllText(Path.Join(Directory, "fail-build"), "");

    public sealed record Call(IReadOnlyList<string> Args, string Stdin);

    public IReadOnlyList<Call> Calls =>
        System.IO.Directory.GetFiles(Path.Join(Directory, "calls"), "*.argv")
            .Order(StringComparer.Ordinal)
            .Select(file => new Call(
                File.ReadAllText(file).Split('\0')[..^1],
                File.ReadAllText(Path.ChangeExtension(file, ".stdin"))))
            .ToList();

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
