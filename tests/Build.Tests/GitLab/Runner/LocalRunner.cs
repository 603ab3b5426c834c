using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Build.Tests.GitLab.Runner;

/// <summary>Why a job's script ended: it exited, its RUNNER_SCRIPT_TIMEOUT passed, or the job's timeout did.</summary>
public enum ScriptEnd { Exited, ScriptTimeout, JobTimeout }

/// <summary>What one job did: its exit code and log, the after_script's (null when it did not run), and where it ran.</summary>
public sealed record JobRun(string Job, int ExitCode, ScriptEnd End, string Log, int? AfterScriptExitCode, string AfterScriptLog, string ProjectDir, TimeSpan Elapsed,
    IReadOnlyDictionary<string, string> Variables)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The last lines of both logs, for assertion messages.</summary>
    public string Tail(int lines = 80)
    {
        var all = (Log + AfterScriptLog).Split('\n');
        return $"job {Job} exited {ExitCode} after {Elapsed.TotalSeconds:0.0} s; last lines:\n" + string.Join('\n', all.TakeLast(lines));
    }
}

/// <summary>How a job is started: the CI/CD variables of the project, the manual job's form, and test-only shortcuts.</summary>
public sealed record JobOptions
{
    /// <summary>Settings &gt; CI/CD &gt; Variables of type Variable (they override the YAML's).</summary>
    public IReadOnlyDictionary<string, string> ProjectVariables { get; init; } = new Dictionary<string, string>();

    /// <summary>Project variables with an environment scope: only a job whose <c>environment:name</c> is that environment gets them.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> ScopedVariables { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, string>>();

    /// <summary>Variables of type File: the job sees the path of a file holding the value.</summary>
    public IReadOnlyDictionary<string, string> FileVariables { get; init; } = new Dictionary<string, string>();

    /// <summary>The variables form of a manual job (the highest precedence).</summary>
    public IReadOnlyDictionary<string, string> ManualVariables { get; init; } = new Dictionary<string, string>();

    /// <summary>Directories put first on PATH (fake tools standing in for what the CI image would run).</summary>
    public IReadOnlyList<string> PathPrefix { get; init; } = [];

    /// <summary>The test's own bound on the job: the YAML's <c>timeout</c> when that is shorter.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(8);
}

/// <summary>
/// A GitLab runner on this machine, as its shell executor runs jobs: a fresh clone per job, an empty
/// HOME, the variables a runner exports (predefined, the YAML's global and job variables with
/// <c>$VAR</c> expansion, the project's, the manual form's, File variables as paths),
/// <c>before_script</c> and <c>script</c> in one <c>bash</c> with <c>set -eo pipefail</c>,
/// <c>after_script</c> in a new shell whatever happened, and caches and artifacts carried between
/// jobs as GitLab carries them. One runner keeps one cache store for the project.
/// </summary>
public sealed class LocalRunner(string root, CiFile file)
{
    private int _jobs;
    private int _pipelines;

    public CiFile File { get; } = file;

    public string Root { get; } = root;

    internal string CacheStore => Path.Join(Root, "cache");

    internal int NextJobId() => Interlocked.Increment(ref _jobs) + 1000;

    /// <summary>A pipeline of <paramref name="commit"/>; by default a push to the default branch that changed every file.</summary>
    public LocalPipeline Pipeline(ProjectCommit commit, PipelineTrigger? trigger = null) =>
        new(this, commit, trigger ?? new PipelineTrigger { Source = "push", Branch = "main" }, Interlocked.Increment(ref _pipelines) + 100);
}

/// <summary>One pipeline of one commit: the jobs its rules give it, the jobs it ran and their artifacts.</summary>
public sealed partial class LocalPipeline(LocalRunner runner, ProjectCommit commit, PipelineTrigger trigger, int id)
{
    private const string Project = "blog";
    private const string Namespace = "team";
    private readonly List<JobRun> _ran = [];

    public ProjectCommit Commit { get; } = commit;

    public int Id { get; } = id;

    private string ArtifactStore(string job) => Path.Join(runner.Root, "artifacts", Id.ToString(System.Globalization.CultureInfo.InvariantCulture), job);

    public async Task<JobRun> RunAsync(string jobName, JobOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new JobOptions();
        var job = runner.File.Job(jobName);
        // Only what the workflow and the job's rules put in this pipeline can run (a manual job when started).
        if (CiRules.Evaluate(runner.File.WorkflowRules, trigger) == CiRules.Never || CiRules.Evaluate(job.Rules, trigger) == CiRules.Never)
            throw new InvalidOperationException($"{jobName} is not in a pipeline started by {trigger.Source} on {trigger.Branch ?? "a merge request"}: its rules leave it out.");
        var jobId = runner.NextJobId();
        var builds = Path.Join(runner.Root, "builds", jobId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var projectDir = Path.Join(builds, Namespace, Project);
        await Commit.CloneToAsync(projectDir, cancellationToken);
        var home = Directory.CreateDirectory(Path.Join(builds, "home")).FullName;

        var variables = Variables(job, jobId, projectDir, builds, options);
        await RestoreCachesAsync(job, projectDir, variables, cancellationToken);
        await RestoreArtifactsAsync(job, projectDir, cancellationToken);

        var environment = Environment(variables, home, options.PathPrefix);
        var watch = Stopwatch.StartNew();
        // The job's timeout (GitLab's default: 1 hour) bounds everything; RUNNER_SCRIPT_TIMEOUT only the script.
        var jobTimeout = Min(job.Timeout ?? TimeSpan.FromHours(1), options.Timeout);
        var scriptTimeout = variables.TryGetValue("RUNNER_SCRIPT_TIMEOUT", out var st) && st.Length > 0 ? Min(GitLabDuration.Parse(st), jobTimeout) : jobTimeout;
        var (exitCode, timedOut, log) = await ShellAsync(job.BeforeScript.Concat(job.Script), projectDir, environment, scriptTimeout, cancellationToken);
        var end = !timedOut ? ScriptEnd.Exited : scriptTimeout < jobTimeout ? ScriptEnd.ScriptTimeout : ScriptEnd.JobTimeout;
        int? afterCode = null;
        var afterLog = "";
        // A new shell, also after a failure or the script's timeout, but not after the job's timeout;
        // its status never changes the job's (its bound: RUNNER_AFTER_SCRIPT_TIMEOUT, 5 minutes by default).
        if (job.AfterScript.Count > 0 && end != ScriptEnd.JobTimeout)
        {
            var afterTimeout = variables.TryGetValue("RUNNER_AFTER_SCRIPT_TIMEOUT", out var at) && at.Length > 0 ? GitLabDuration.Parse(at) : TimeSpan.FromMinutes(5);
            (afterCode, _, afterLog) = await ShellAsync(job.AfterScript, projectDir, environment, Min(afterTimeout, jobTimeout - watch.Elapsed), cancellationToken);
        }
        var run = new JobRun(jobName, exitCode, end, log, afterCode, afterLog, projectDir, watch.Elapsed, variables);

        if (run.Succeeded) await SaveCachesAsync(job, projectDir, variables, cancellationToken);
        await SaveArtifactsAsync(job, run, cancellationToken);
        lock (_ran) _ran.Add(run);
        return run;
    }

    private Dictionary<string, string> Variables(CiJob job, int jobId, string projectDir, string builds, JobOptions options)
    {
        var shortSha = Commit.Sha[..8];
        var registry = "registry.example.com";
        var token = $"glcbt-64-job-token-{jobId}-{Id}";
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["CI"] = "true",
            ["GITLAB_CI"] = "true",
            ["CI_SERVER"] = "yes",
            ["CI_SERVER_URL"] = "https://gitlab.example.com",
            ["CI_BUILDS_DIR"] = builds,
            ["CI_PROJECT_DIR"] = projectDir,
            ["CI_PROJECT_NAME"] = Project,
            ["CI_PROJECT_NAMESPACE"] = Namespace,
            ["CI_PROJECT_PATH"] = $"{Namespace}/{Project}",
            ["CI_PROJECT_URL"] = $"https://gitlab.example.com/{Namespace}/{Project}",
            ["CI_COMMIT_SHA"] = Commit.Sha,
            ["CI_COMMIT_SHORT_SHA"] = shortSha,
            ["CI_COMMIT_REF_NAME"] = trigger.Branch ?? "main",
            ["CI_COMMIT_REF_SLUG"] = trigger.Branch ?? "main",
            ["CI_PIPELINE_ID"] = Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CI_JOB_ID"] = jobId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CI_JOB_NAME"] = job.Name,
            ["CI_JOB_TOKEN"] = token,
            ["CI_REGISTRY"] = registry,
            ["CI_REGISTRY_IMAGE"] = $"{registry}/{Namespace}/{Project}",
            ["CI_REGISTRY_USER"] = "gitlab-ci-token",
            ["CI_REGISTRY_PASSWORD"] = token,
        };
        foreach (var (name, value) in trigger.Variables) variables[name] = value;
        // Lowest to highest precedence; the YAML's values expand references to what is already set.
        foreach (var variable in runner.File.Variables.Concat(job.Variables))
            variables[variable.Name] = variable.Expand ? Expand(variable.Value, variables) : variable.Value;
        foreach (var (name, value) in options.ProjectVariables) variables[name] = value;
        if (job.Environment is { } environment && options.ScopedVariables.TryGetValue(environment, out var scoped))
        {
            foreach (var (name, value) in scoped) variables[name] = value;
        }
        var files = Directory.CreateDirectory(projectDir + ".tmp").FullName;
        foreach (var (name, value) in options.FileVariables)
        {
            var path = Path.Join(files, name);
            File.WriteAllText(path, value);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            variables[name] = path;
        }
        foreach (var (name, value) in options.ManualVariables) variables[name] = value;
        return variables;
    }

    /// <summary>GitLab's expansion of <c>$NAME</c> and <c>${NAME}</c> (unset: empty; <c>$$</c>: a dollar).</summary>
    public static string Expand(string value, IReadOnlyDictionary<string, string> variables) =>
        Reference().Replace(value, m => m.Value == "$$" ? "$" : variables.GetValueOrDefault(m.Groups["braced"].Success ? m.Groups["braced"].Value : m.Groups["plain"].Value, ""));

    [GeneratedRegex(@"\$\$|\$\{(?<braced>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?<plain>[A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex Reference();

    /// <summary>
    /// The runner machine's own environment (PATH, locale, the SDK's machine-wide settings), never the
    /// test process's (its MSBuild, test host and pipeline variables), then the job's variables.
    /// </summary>
    private static Dictionary<string, string> Environment(Dictionary<string, string> variables, string home, IReadOnlyList<string> pathPrefix)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in new[] { "PATH", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "NUGET_CERT_REVOCATION_MODE", "DOTNET_CLI_TELEMETRY_OPTOUT", "DOTNET_NOLOGO", "DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE", "DOTNET_GENERATE_ASPNET_CERTIFICATE" })
        {
            if (System.Environment.GetEnvironmentVariable(name) is { } value) environment[name] = value;
        }
        environment["PATH"] = string.Join(':', pathPrefix.Append(environment.GetValueOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin")));
        environment["HOME"] = home;
        foreach (var (name, value) in variables) environment[name] = value;
        return environment;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static async Task<(int ExitCode, bool TimedOut, string Log)> ShellAsync(IEnumerable<string> lines, string projectDir, Dictionary<string, string> environment, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var script = new StringBuilder("set -eo pipefail\n");
        foreach (var line in lines)
        {
            // As the runner's trace does: each command echoed before it runs.
            script.Append("printf '%s\\n' ").Append(Quote("$ " + line)).Append('\n').Append(line).Append('\n');
        }
        // Its own process group (setsid execs, keeping the pid), so a timeout can signal the whole job.
        var info = new ProcessStartInfo("setsid")
        {
            ArgumentList = { "bash", "--noprofile", "--norc", "-c", script.ToString() },
            WorkingDirectory = projectDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        info.Environment.Clear();
        foreach (var (name, value) in environment) info.Environment[name] = value;

        var log = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.Append(e.Data).Append('\n'); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            // As the runner stops a step: SIGTERM to every process of the job, SIGKILL after a grace period.
            lock (log) log.Append($"ERROR: the script exceeded its timeout of {timeout}: terminating it\n");
            _ = kill(-process.Id, 15);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await process.WaitForExitAsync(grace.Token); }
            catch (OperationCanceledException) { process.Kill(entireProcessTree: true); }
            await process.WaitForExitAsync(CancellationToken.None);
            lock (log) return (process.ExitCode, true, log.ToString());
        }
        process.WaitForExit();   // drains the output events
        lock (log) return (process.ExitCode, false, log.ToString());
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''") + "'";

    /// <summary>The key GitLab derives: the prefix and a hash of the key files' content, or the fixed key expanded.</summary>
    private static string CacheKey(CiCache cache, string projectDir, IReadOnlyDictionary<string, string> variables)
    {
        if (cache.Key is { } key) return Expand(key, variables);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in cache.KeyFiles)
        {
            var path = Path.Join(projectDir, file);
            if (System.IO.File.Exists(path)) hash.AppendData(System.IO.File.ReadAllBytes(path));
        }
        return $"{cache.KeyPrefix}-{Convert.ToHexStringLower(hash.GetHashAndReset())[..16]}";
    }

    private async Task RestoreCachesAsync(CiJob job, string projectDir, IReadOnlyDictionary<string, string> variables, CancellationToken cancellationToken)
    {
        foreach (var cache in job.Caches.Where(c => c.Policy != CachePolicy.Push))
        {
            // The key, else the first fallback key the store has.
            var stored = new[] { CacheKey(cache, projectDir, variables) }.Concat(cache.FallbackKeys.Select(k => Expand(k, variables)))
                .Select(k => Path.Join(runner.CacheStore, k))
                .FirstOrDefault(Directory.Exists);
            if (stored is null) continue;
            foreach (var path in cache.Paths)
                await CopyAsync(Path.Join(stored, path), Path.Join(projectDir, path), cancellationToken);
        }
    }

    private async Task SaveCachesAsync(CiJob job, string projectDir, IReadOnlyDictionary<string, string> variables, CancellationToken cancellationToken)
    {
        foreach (var cache in job.Caches.Where(c => c.Policy != CachePolicy.Pull))
        {
            var stored = Path.Join(runner.CacheStore, CacheKey(cache, projectDir, variables));
            foreach (var path in cache.Paths)
            {
                var target = Path.Join(stored, path);
                if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
                await CopyAsync(Path.Join(projectDir, path), target, cancellationToken);
            }
        }
    }

    private async Task SaveArtifactsAsync(CiJob job, JobRun run, CancellationToken cancellationToken)
    {
        if (job.Artifacts is not { } artifacts) return;
        var keep = artifacts.When switch
        {
            "always" => true,
            "on_failure" => !run.Succeeded,
            _ => run.Succeeded,
        };
        if (!keep) return;
        foreach (var path in artifacts.Paths)
            await CopyAsync(Path.Join(run.ProjectDir, path), Path.Join(ArtifactStore(job.Name), path), cancellationToken);
    }

    /// <summary><c>needs: [{job, artifacts: true}]</c> brings those jobs' artifacts; <c>needs: []</c> none; no needs, every earlier job's.</summary>
    private async Task RestoreArtifactsAsync(CiJob job, string projectDir, CancellationToken cancellationToken)
    {
        IEnumerable<string> from;
        lock (_ran) from = job.Needs is null ? _ran.Select(r => r.Job).Distinct().ToList() : job.Needs.Where(n => n.Artifacts).Select(n => n.Job).ToList();
        foreach (var source in from)
        {
            var store = ArtifactStore(source);
            if (Directory.Exists(store)) await CopyAsync(store, projectDir, cancellationToken);
        }
    }

    /// <summary>
    /// Copies a file or a directory's content, times kept, as GitLab's cache and artifact archives do.
    /// Package folders are hard-linked instead, for speed: NuGet writes a package once and npm ci
    /// replaces node_modules whole, so no job edits one of their files in place (a compile writing
    /// into .build/bin would, so everything else is copied).
    /// </summary>
    private static async Task CopyAsync(string source, string target, CancellationToken cancellationToken)
    {
        if (File.Exists(source))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target, overwrite: true);
            File.SetLastWriteTimeUtc(target, File.GetLastWriteTimeUtc(source));
            return;
        }
        if (!Directory.Exists(source)) return;
        Directory.CreateDirectory(target);
        var packages = source.Replace('\\', '/').TrimEnd('/') is var s && (s.EndsWith("/.nuget/packages", StringComparison.Ordinal) || s.EndsWith("/node_modules", StringComparison.Ordinal));
        await ProjectCommit.Run("cp", [packages ? "-al" : "-a", source.TrimEnd('/') + "/.", target], cancellationToken);
    }
}
