using Build.Processes;

namespace Build.Tailnet;

/// <summary>
/// The <c>tailscale</c> CLI. The global <c>--socket</c> flag goes before the verb; without a socket
/// (existing mode, none given) the CLI uses its own default.
/// </summary>
public sealed class TailscaleCli(string binary, string? socket, IProcessRunner runner)
{
    public string Binary => binary;

    public string? Socket => socket;

    public IReadOnlyList<string> Arguments(params string[] verbAndArguments) =>
        socket is null ? verbAndArguments : [$"--socket={socket}", .. verbAndArguments];

    public Task<ProcessResult> RunAsync(TimeSpan timeout, CancellationToken cancellationToken, params string[] verbAndArguments) =>
        runner.RunAsync(new ProcessSpec(binary, Arguments(verbAndArguments)) { Timeout = timeout }, cancellationToken);

    /// <summary>The status, or null when no daemon answers (yet) or it printed no status.</summary>
    public async Task<TailnetStatus?> TryStatusAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        ProcessResult result;
        try
        {
            result = await RunAsync(timeout, cancellationToken, "status", "--json");
        }
        catch (PipelineException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        // A daemon that answers prints a status, whatever the exit code says.
        return TailnetStatus.TryParse(result.Output, out var status) ? status : null;
    }

    public async Task<TailnetStatus> StatusAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var result = await RunAsync(timeout, cancellationToken, "status", "--json");
        if (!result.Succeeded)
            throw new PipelineException($"`{binary} status --json` failed (exit {result.ExitCode}): {result.Tail(5)}");
        try
        {
            return TailnetStatus.Parse(result.Output);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new PipelineException($"`{binary} status --json` printed something that is not a status: {e.Message}", inner: e);
        }
    }

    public async Task<ProcessResult> UpAsync(KeyFile key, IReadOnlyList<string> tags, string hostname, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var arguments = new List<string> { "up", $"--auth-key={key.Argument}" };
        if (tags.Count > 0) arguments.Add($"--advertise-tags={string.Join(',', tags)}");
        arguments.Add($"--hostname={hostname}");
        arguments.Add("--accept-routes");
        arguments.Add($"--timeout={(int)Math.Ceiling(timeout.TotalSeconds)}s");
        try
        {
            // The CLI bounds itself with --timeout; the extra margin only catches a CLI that hangs anyway.
            return await RunAsync(timeout + TimeSpan.FromSeconds(10), cancellationToken, [.. arguments]);
        }
        catch (PipelineException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TransientTailnetException($"tailscale up did not finish: {e.Message}", e);
        }
    }

    public Task<ProcessResult> LogoutAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        RunAsync(timeout, cancellationToken, "logout");
}
