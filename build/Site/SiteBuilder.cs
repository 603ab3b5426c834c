using System.Globalization;
using System.Text.RegularExpressions;
using Build.Processes;

namespace Build.Site;

/// <summary>What one Hexo generation did.</summary>
/// <param name="Files">Files Hexo reports it wrote.</param>
/// <param name="HexoTime">Hexo's own count ("N files generated in T"), when it printed one.</param>
/// <param name="Elapsed">Wall time of the whole step, node start-up and clean included.</param>
public sealed record GenerateResult(int Files, TimeSpan? HexoTime, TimeSpan Elapsed);

/// <summary>
/// Runs npm and Hexo for the site in <c>site/</c>, through the process runner (secrets scrubbed from
/// their environment, output redacted and streamed line by line).
/// </summary>
/// <remarks>
/// Every generation starts from an empty <c>public/</c> and no <c>db.json</c> (what <c>hexo clean</c>
/// does, done here without a second node start-up). Hexo's incremental mode leaves the pages of
/// deleted or renamed posts in <c>public/</c>, and its <c>db.json</c> cache keeps rendered posts
/// across configuration changes (a changed renderer option does not reach an unchanged post); both
/// would be deployed. A full generation costs little more, and the deploy compares content hashes,
/// so rewritten but unchanged files are not uploaded again.
/// </remarks>
public sealed partial class SiteBuilder(
    IProcessRunner processes,
    SiteDependencies dependencies,
    Action<string> info,
    Action<string> verbose,
    TimeProvider? timeProvider = null)
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    public static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan GenerateTimeout = TimeSpan.FromMinutes(10);

    public string SiteDirectory => dependencies.SiteDirectory;

    public string PublicDirectory => Path.Join(SiteDirectory, "public");

    public string Database => Path.Join(SiteDirectory, "db.json");

    /// <summary><c>npm ci</c> in the site directory, then the stamp that lets the next run skip it.</summary>
    public async Task InstallAsync(CancellationToken cancellationToken)
    {
        var spec = new ProcessSpec(OperatingSystem.IsWindows() ? "npm.cmd" : "npm", ["ci", "--no-audit", "--no-fund"])
        {
            WorkingDirectory = SiteDirectory,
            Environment = QuietNode(),
            OnLine = info,
            Timeout = InstallTimeout,
        };
        var result = await processes.RunAsync(spec, cancellationToken);
        if (!result.Succeeded)
            throw new PipelineException($"npm ci in {SiteDirectory} failed with exit code {result.ExitCode}:\n{result.Tail()}");
        dependencies.MarkInstalled();
    }

    /// <summary>Removes what Hexo generated: <c>public/</c> and its cache <c>db.json</c>.</summary>
    public void DeleteOutput() => DeleteOutput(SiteDirectory);

    /// <summary>What <c>hexo clean</c> removes: <c>public/</c> and <c>db.json</c> of a site directory.</summary>
    public static void DeleteOutput(string siteDirectory)
    {
        var output = Path.Join(siteDirectory, "public");
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        File.Delete(Path.Join(siteDirectory, "db.json"));
    }

    /// <summary>A full <c>hexo generate</c> into <c>public/</c>, run with node directly (npx costs a second start-up).</summary>
    public async Task<GenerateResult> GenerateAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        if (!File.Exists(dependencies.HexoScript))
            throw new PipelineException($"Hexo is not installed: {dependencies.HexoScript} is missing. Run the InstallSiteDependencies task (npm ci in site/).");
        DeleteOutput();

        int files = 0;
        TimeSpan? hexoTime = null;
        var spec = new ProcessSpec(OperatingSystem.IsWindows() ? "node.exe" : "node", [dependencies.HexoScript, "generate"])
        {
            WorkingDirectory = SiteDirectory,
            Environment = QuietNode(),
            OnLine = line =>
            {
                var plain = Ansi().Replace(line, "");
                if (GeneratedLine().Match(plain) is { Success: true } m)
                {
                    files = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                    hexoTime = Duration(m.Groups[2].Value, m.Groups[3].Value);
                }
                if (plain.Contains("Generated: ", StringComparison.Ordinal)) verbose(plain);
                else info(plain);
            },
            Timeout = GenerateTimeout,
        };
        var result = await processes.RunAsync(spec, cancellationToken);
        if (!result.Succeeded)
            throw new PipelineException($"hexo generate in {SiteDirectory} failed with exit code {result.ExitCode}:\n{result.Tail()}");
        if (!File.Exists(Path.Join(PublicDirectory, "index.html")))
            throw new PipelineException($"hexo generate exited 0 but wrote no {Path.Join(PublicDirectory, "index.html")}. Its output:\n{result.Tail()}");
        return new GenerateResult(files, hexoTime, _time.GetElapsedTime(started));
    }

    // No colours (picocolors treats any FORCE_COLOR as "on"), no update check.
    private static Dictionary<string, string?> QuietNode() => new()
    {
        ["NO_COLOR"] = "1",
        ["FORCE_COLOR"] = null,
        ["NO_UPDATE_NOTIFIER"] = "1",
        ["npm_config_update_notifier"] = "false",
        ["npm_config_progress"] = "false",
    };

    private static TimeSpan Duration(string value, string unit)
    {
        var number = double.Parse(value, CultureInfo.InvariantCulture);
        return unit == "ms" ? TimeSpan.FromMilliseconds(number) : TimeSpan.FromSeconds(number);
    }

    // Hexo 8: "INFO  29 files generated in 238 ms" (pretty-hrtime: "ms" or "s").
    [GeneratedRegex(@"(\d+) files? generated in ([\d.]+) (ms|s)\b")]
    private static partial Regex GeneratedLine();

    [GeneratedRegex(@"\x1b\[[0-9;]*m")]
    private static partial Regex Ansi();
}
