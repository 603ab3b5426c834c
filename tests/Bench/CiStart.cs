namespace Bench;

/// <summary>
/// The <c>ci-start</c> row: what a CI job waits for before the pipeline does anything, <c>./build.sh --tree</c>
/// in a fresh clone (the working tree's tracked and untracked files, new file times) with the compiled
/// program restored as the CI cache restores it. The clone must compile nothing, or the row would lie.
/// </summary>
public static class CiStart
{
    public const string Scenario = "ci-start";
    public const string Contender = "build.sh --tree";

    public static async Task<BenchResult> MeasureAsync(string root, string work, int runs, TimeSpan rtt, CancellationToken cancellationToken)
    {
        var clone = Path.Join(work, "ci-start-clone");
        // The files a commit of the working tree holds, written anew as a clone writes them (new times).
        const string copy = """
            set -euo pipefail
            mkdir -p "$2/.build"
            git -C "$1" ls-files -z --cached --others --exclude-standard | (cd "$1" && xargs -0 sh -c 'for f; do if [ -f "$f" ]; then printf "%s\0" "$f"; fi; done' sh) \
              | tar -C "$1" --null -T - -cf - | tar -C "$2" -xf - --touch
            """;
        (await ChildProcess.RunAsync("bash", ["-c", copy, "bash", root, clone], cancellationToken: cancellationToken)).EnsureSuccess("copy the working tree");
        (await ChildProcess.RunAsync("cp", ["-a", Path.Join(root, ".build", "bin"), Path.Join(clone, ".build", "bin")], cancellationToken: cancellationToken)).EnsureSuccess("cp .build/bin");
        File.Copy(Path.Join(root, ".build", "stamp"), Path.Join(clone, ".build", "stamp"));

        var measures = new List<RunMeasure>();
        for (var run = 0; run < runs; run++)
        {
            var cpu0 = CpuTime.OfChildren();
            var result = (await ChildProcess.RunAsync("bash", [Path.Join(clone, "build.sh"), "--tree"], clone, cancellationToken: cancellationToken)).EnsureSuccess(Contender);
            if (result.Output.Contains("building the pipeline", StringComparison.Ordinal))
                throw new InvalidOperationException($"{Contender} compiled the pipeline in the clone: the restored output did not match its sources (is the working tree's .build up to date?).\n{result.Tail()}");
            measures.Add(new RunMeasure(result.Elapsed.TotalSeconds, 0, 0, result.PeakRssKb, CpuTime.OfChildren() - cpu0));
        }
        return BenchReport.Summarise([(Scenario, 0, Contender, measures)], rtt)[0];
    }
}
