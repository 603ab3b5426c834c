using Build.Processes;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

[TaskName("Bench")]
[TaskDescription("Deploy benchmark against rsync and tar|ssh under real latency (tests/Bench; --bench-posts, --bench-servers, --bench-rtt, --bench-bandwidth, --bench-runs, --bench-contenders, --bench-scenarios)")]
public sealed class BenchTask : AsyncFrostingTask<BuildContext>
{
    // Depends on nothing: the bench builds its own site from site/ in a temporary folder.
    public override async Task RunAsync(BuildContext context)
    {
        var output = Path.Join(context.Root, ".build", "bench");
        await RunAsync(context, "building tests/Bench", "dotnet",
            ["build", Path.Join(context.Root, "tests", "Bench", "Bench.csproj"), "--configuration", "Release", "--output", output, "--nologo", "--verbosity", "quiet", "-clp:ErrorsOnly;NoSummary"]);

        // Every --bench-* argument is passed on as given; the bench rejects unknown ones.
        var arguments = context.Arguments.GetArguments()
            .Where(a => a.Key.StartsWith("bench-", StringComparison.OrdinalIgnoreCase))
            .SelectMany(a => a.Value.Select(v => $"--{a.Key.ToLowerInvariant()}={v}"));
        await RunAsync(context, "the benchmark", "dotnet", [Path.Join(output, "Bench.dll"), .. arguments]);
    }

    private static async Task RunAsync(BuildContext context, string what, string program, IReadOnlyList<string> arguments)
    {
        var result = await context.Processes.RunAsync(
            new ProcessSpec(program, arguments) { WorkingDirectory = context.Root, OnLine = line => context.Information("{0}", line) },
            context.CancellationToken);
        if (!result.Succeeded)
            throw new PipelineException($"Bench: {what} failed with exit code {result.ExitCode} (see the output above).",
                result.ExitCode is ExitCodes.BadSettings or ExitCodes.Interrupted ? result.ExitCode : ExitCodes.TaskFailed);
    }
}
