using System.Xml.Linq;
using Build.Output;
using Cake.Common.Diagnostics;
using Cake.Common.Tools.DotNet;
using Cake.Common.Tools.DotNet.Test;
using Cake.Core;
using FilePath = Cake.Core.IO.FilePath;

namespace Build.Testing;

/// <summary>
/// Runs every test project under tests/ with Cake's DotNetTest (failures in full, a summary line per
/// project, no line per passed test), then prints one closing line with the totals read from the TRX
/// results, so a CI log shows at a glance what ran.
/// </summary>
public sealed class TestRunner(BuildContext context)
{
    public void Run()
    {
        var projects = Directory.GetFiles(Path.Join(context.Root, "tests"), "*.Tests.csproj", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (projects.Length == 0) throw new PipelineException("No test projects (tests/*/*.Tests.csproj) were found.");

        var results = Path.Join(context.Artifacts, "test-results");
        if (Directory.Exists(results)) Directory.Delete(results, recursive: true);

        var failed = new List<string>();
        foreach (var project in projects)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            var name = Path.GetFileNameWithoutExtension(project);
            var settings = new DotNetTestSettings
            {
                Configuration = "Release",
                NoLogo = true,
                ResultsDirectory = results,
                // Minimal: each failed test with its message and stack, then one summary line per project;
                // no line per passed test (the TRX file has every result).
                Loggers = [$"trx;LogFileName={name}.trx", "console;verbosity=minimal"],
                Filter = context.Arguments.HasArgument("test-filter") ? context.Arguments.GetArgument("test-filter") : null,
                // The tests need no secret: an empty value reads as unset.
                EnvironmentVariables = Redactor.SecretVariables.ToDictionary(v => v, _ => ""),
                // A test that hangs ends the run after 10 minutes, with a dump, instead of the CI job's timeout.
                ArgumentCustomization = args => args.Append("--blame-hang-timeout").Append("10m"),
            };
            try
            {
                context.DotNetTest(new FilePath(project).FullPath, settings);
            }
            catch (CakeException e)
            {
                context.Error($"{name}: {e.Message}");
                failed.Add(name);
            }
        }

        var totals = TrxTotals.Read(Directory.Exists(results) ? Directory.GetFiles(results, "*.trx") : []);
        // Written plainly (Cake's log colours numbers): CI reads this closing line.
        Console.WriteLine($"Tests: {totals.Passed} passed, {totals.Failed} failed, {totals.Skipped} skipped");
        if (failed.Count > 0 || totals.Failed > 0)
            throw new PipelineException($"Tests failed in {string.Join(", ", failed.DefaultIfEmpty("(see the log)"))}.");
        if (totals.Passed == 0)
            throw new PipelineException("No test ran: check --test-filter and the test projects.");
    }
}

/// <summary>Totals summed over TRX files (the Counters element of each ResultSummary).</summary>
public sealed record TrxTotals(int Passed, int Failed, int Skipped)
{
    public static TrxTotals Read(IEnumerable<string> files)
    {
        int passed = 0, failed = 0, skipped = 0;
        foreach (var file in files)
        {
            var counters = XDocument.Load(file).Descendants().FirstOrDefault(e => e.Name.LocalName == "Counters");
            if (counters is null) continue;
            int Count(string name) => int.TryParse(counters.Attribute(name)?.Value, out var n) ? n : 0;
            passed += Count("passed");
            failed += Count("failed") + Count("error") + Count("timeout") + Count("aborted");
            skipped += Count("notExecuted");
        }
        return new TrxTotals(passed, failed, skipped);
    }
}
