using System.Text.Json;
using Build.Output;
using Build.Resilience;
using Polly;
using Polly.Timeout;

namespace Build.Tailnet.Api;

public enum ForgetOutcome
{
    /// <summary>No record of a join: this job joined no tailnet.</summary>
    NothingToDo,
    Deleted,
    /// <summary>The node is no longer registered (the teardown's logout worked, or Tailscale removed it).</summary>
    AlreadyGone,
    /// <summary>The cleanup could not be attempted (no usable credentials, an ambiguous match).</summary>
    Skipped,
    /// <summary>The API kept failing within the time bound, or refused the credentials.</summary>
    Failed,
}

public sealed record ForgetResult(ForgetOutcome Outcome, string Message);

/// <summary>Attempts per API call, their spacing and bounds. The total bound covers every call and delay.</summary>
public sealed record ForgetNodeOptions
{
    public int Attempts { get; init; } = 3;
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan TotalTimeout { get; init; } = TimeSpan.FromSeconds(45);
}

/// <summary>
/// The fallback cleanup behind the <c>ForgetNode</c> target: when a job was killed before its
/// teardown, its ephemeral node may still be registered. This reads the join record, and if that
/// node is still in the tailnet, deletes it through the Tailscale API with the OAuth client.
/// Best effort by design: it reports every outcome and never throws (it runs from
/// <c>after_script</c>, where a failure must not fail the job).
/// </summary>
public sealed class NodeForgetter(HttpClient http, TimeProvider clock, ForgetNodeOptions options, Action<string> info, Action<string> warn)
{
    private const string EphemeralNote = "An ephemeral node is also removed by Tailscale once it has been offline for a while.";

    public async Task<ForgetResult> ForgetAsync(string recordPath, string? secret, string? clientId, string? explicitApiUrl, CancellationToken cancellationToken)
    {
        // Anything printed passes through a redactor that knows this run's credentials (secret, token).
        var known = new List<string>();
        if (!string.IsNullOrWhiteSpace(secret)) known.Add(secret.Trim());
        try
        {
            return await ForgetCoreAsync(recordPath, secret, clientId, explicitApiUrl, known, cancellationToken);
        }
        catch (Exception e)
        {
            // Never thrown on: the cleanup is a fallback, and after_script must not fail.
            return Report(ForgetOutcome.Failed, $"ForgetNode: unexpected {e.GetType().Name}: {e.Message}. {EphemeralNote}", known);
        }
    }

    private async Task<ForgetResult> ForgetCoreAsync(string recordPath, string? secret, string? clientId, string? explicitApiUrl, List<string> known, CancellationToken cancellationToken)
    {
        TailnetRecord? record;
        try
        {
            record = TailnetRecord.Read(recordPath);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return Report(ForgetOutcome.Skipped, $"ForgetNode: {recordPath} cannot be read ({e.Message}): cannot tell which node to remove. {EphemeralNote}", known);
        }
        if (record is null)
            return Report(ForgetOutcome.NothingToDo, $"ForgetNode: no {Path.GetFileName(recordPath)}: this job did not join the tailnet, nothing to do.", known);
        if (string.IsNullOrWhiteSpace(record.NodeId) && string.IsNullOrWhiteSpace(record.Hostname))
            return Report(ForgetOutcome.Skipped, $"ForgetNode: {recordPath} names no node (neither hostname nor node_id). {EphemeralNote}", known);

        var credentials = OAuthCredentials.Resolve(secret, clientId, explicitApiUrl, out var problem);
        if (credentials is null)
            return Report(ForgetOutcome.Skipped, $"ForgetNode: node {record} may still be registered, but {problem} {EphemeralNote}", known);
        known.Add(credentials.Secret);
        info($"ForgetNode: looking for node {record} through the Tailscale API at {credentials.ApiBase}.");

        var api = new TailscaleApiClient(http, credentials.ApiBase);
        using var deadline = new CancellationTokenSource(options.TotalTimeout, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var token = linked.Token;
        try
        {
            var accessToken = await Pipeline("token request", known).ExecuteAsync(
                async ct => await api.GetTokenAsync(credentials.ClientId, credentials.Secret, ct), token);
            known.Add(accessToken);

            var devices = await Pipeline("device list", known).ExecuteAsync(
                async ct => await api.ListDevicesAsync(accessToken, ct), token);
            var (device, ambiguity) = Match(devices, record);
            if (ambiguity is not null)
                return Report(ForgetOutcome.Skipped, $"ForgetNode: {ambiguity}: deleting none of them. {EphemeralNote}", known);
            if (device?.DeleteId is not { } id)
                return Report(ForgetOutcome.AlreadyGone, $"ForgetNode: node {record} is not registered any more: nothing to do.", known);

            info($"ForgetNode: node {record} is still registered as {device.Name ?? device.Hostname} (device {id}): deleting it.");
            var deleted = await Pipeline("device delete", known).ExecuteAsync(
                async ct => await api.DeleteDeviceAsync(accessToken, id, ct), token);
            return deleted
                ? Report(ForgetOutcome.Deleted, $"ForgetNode: deleted node {record} (device {id}) from the tailnet.", known)
                : Report(ForgetOutcome.AlreadyGone, $"ForgetNode: node {record} was already gone (404 on delete): nothing to do.", known);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return Report(ForgetOutcome.Failed, $"ForgetNode: gave up after {Duration(options.TotalTimeout)} without an answer from the Tailscale API; node {record} may still be registered. {EphemeralNote}", known);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Report(ForgetOutcome.Failed, $"ForgetNode: interrupted; node {record} may still be registered. {EphemeralNote}", known);
        }
        catch (Exception e) when (e is TailscaleApiException or HttpRequestException or TimeoutRejectedException)
        {
            return Report(ForgetOutcome.Failed, $"ForgetNode: {Describe(e).TrimEnd('.')}; gave up, node {record} may still be registered. {EphemeralNote}", known);
        }
    }

    /// <summary>
    /// The device that is this job's node. The node id (from <c>status --json</c> at join) decides
    /// when it was recorded; otherwise the host name, which other nodes may share: several
    /// matches are narrowed to those created since the join, and if still several, none is chosen.
    /// </summary>
    public static (ApiDevice? Device, string? Ambiguity) Match(IReadOnlyList<ApiDevice> devices, TailnetRecord record)
    {
        if (!string.IsNullOrWhiteSpace(record.NodeId))
        {
            var byId = devices.FirstOrDefault(d => d.NodeId == record.NodeId || d.Id == record.NodeId);
            return (byId, null);
        }
        var host = record.Hostname!.Trim().TrimEnd('.');
        var matches = devices.Where(d =>
            string.Equals(d.Hostname, host, StringComparison.OrdinalIgnoreCase) ||
            string.Equals(FirstLabel(d.Name), host, StringComparison.OrdinalIgnoreCase)).ToList();
        if (matches.Count > 1 && record.JoinedAt is { } joined)
        {
            // Clocks differ a little between the runner and the control plane.
            var since = joined - TimeSpan.FromMinutes(2);
            matches = matches.Where(d => DateTimeOffset.TryParse(d.Created, out var created) && created >= since).ToList();
        }
        return matches.Count switch
        {
            0 => (null, null),
            1 => (matches[0], null),
            _ => (null, $"{matches.Count} devices are named {host} ({string.Join(", ", matches.Select(m => m.DeleteId))})"),
        };
    }

    private static string? FirstLabel(string? name) => name is null ? null : name.Split('.')[0];

    private ResiliencePipeline Pipeline(string what, List<string> known) =>
        RetryPipeline.Create(new RetryPolicy
        {
            Attempts = options.Attempts,
            Delay = options.RetryDelay,
            AttemptTimeout = options.AttemptTimeout,
            ShouldRetry = TailscaleApiException.IsTransient,
            OnRetry = (attempt, delay, error) =>
            {
                var why = error is { } e ? Describe(e) : "failed";
                warn(new Redactor(known).Redact($"ForgetNode: {what}, attempt {attempt} of {options.Attempts}: {why.TrimEnd('.')}; retrying in {Duration(delay)}."));
            },
        }, clock);

    private string Describe(Exception e) => e switch
    {
        TimeoutRejectedException => $"no answer within {Duration(options.AttemptTimeout)}",
        HttpRequestException h => $"cannot reach the API ({h.Message})",
        _ => e.Message,
    };

    private static string Duration(TimeSpan t) =>
        t < TimeSpan.FromSeconds(1) ? $"{t.TotalMilliseconds:0}ms" : $"{t.TotalSeconds:0.#}s";

    private ForgetResult Report(ForgetOutcome outcome, string message, List<string> known)
    {
        message = new Redactor(known).Redact(message);
        if (outcome is ForgetOutcome.Failed or ForgetOutcome.Skipped) warn(message);
        else info(message);
        return new ForgetResult(outcome, message);
    }
}
