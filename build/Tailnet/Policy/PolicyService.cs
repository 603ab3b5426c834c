using Build.Output;
using Build.Resilience;
using Build.Tailnet.Api;
using Polly;
using Polly.Timeout;

namespace Build.Tailnet.Policy;

/// <summary>Attempts per API call and their spacing (from <c>--retries</c>/<c>--retry-delay</c>), and the bound on each attempt.</summary>
public sealed record PolicyApiOptions
{
    public int Attempts { get; init; } = 3;
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

public enum ApplyOutcome { Unchanged, Applied }

/// <summary>
/// <c>TestPolicy</c> and <c>ApplyPolicy</c> against the Tailscale API with the policy OAuth client
/// (<c>TS_POLICY_OAUTH_*</c>, scope <c>policy_file</c>). Transient failures are retried through the
/// shared <see cref="RetryPipeline"/>; every other failure is a <see cref="PipelineException"/> (exit 1),
/// raised before anything is written. Nothing printed holds the secret or the token.
/// </summary>
public sealed class PolicyService(HttpClient http, TimeProvider clock, PolicyApiOptions options, Action<string> info, Action<string> warn)
{
    private readonly List<string> _known = [];

    /// <summary>False (and says why) when no policy credential is set: a merge request's pipeline has none.</summary>
    public async Task<bool> TestAsync(PolicyDocument file, string text, OAuthCredentials? credentials, CancellationToken cancellationToken)
    {
        if (credentials is null)
        {
            Info("TestPolicy: TS_POLICY_OAUTH_SECRET is not set (merge-request pipelines get no protected variables): the policy is not sent to Tailscale; CheckPolicy has checked it offline.");
            return false;
        }
        return await Guard(async ct =>
        {
            var (client, token) = await ConnectAsync(credentials, ct);
            Info($"TestPolicy: validating {file.Source} with Tailscale ({credentials}).");
            var result = await Retry("policy validate", c => client.ValidateAsync(token, text, c), ct);
            if (result.Passed)
            {
                foreach (var line in result.Details) Warn("TestPolicy: " + line);
                Info($"TestPolicy: Tailscale accepts {file.Source}, and its {file.Tests.Count} test(s) pass.");
                return true;
            }
            foreach (var line in result.Details) Warn("TestPolicy: " + line);
            throw new PipelineException(Redact($"TestPolicy: Tailscale refuses {file.Source}: {result.Message}{(result.Details.Count == 0 ? "" : " (" + result.Details.Count + " error(s) above)")}."));
        }, cancellationToken);
    }

    /// <param name="committed">The file's committed versions (git history): a current policy equal to one of them was applied from the repository.</param>
    public async Task<ApplyOutcome> ApplyAsync(PolicyDocument file, string text, IReadOnlyList<(string Commit, string Text)> committed, string? historyProblem,
        bool force, OAuthCredentials credentials, CancellationToken cancellationToken) =>
        await Guard(async ct =>
        {
            var (client, token) = await ConnectAsync(credentials, ct);
            var current = await Retry("policy read", c => client.GetAsync(token, c), ct);
            var currentPolicy = ParseAnswer(current.Text);
            if (currentPolicy.Canonical == file.Canonical)
            {
                Info($"ApplyPolicy: the tailnet's policy already equals {file.Source} (comments and layout aside): nothing to write.");
                return ApplyOutcome.Unchanged;
            }

            var fromRepository = committed.FirstOrDefault(v => TryCanonical(v.Text) == currentPolicy.Canonical);
            if (fromRepository.Commit is null)
            {
                var diff = TextDiff.Lines(currentPolicy.Canonical, file.Canonical);
                var why = historyProblem is null
                    ? $"it equals neither {file.Source} nor any of its {committed.Count} committed version(s)"
                    : $"it differs from {file.Source}, and {historyProblem} (fetch it: GIT_DEPTH: 0)";
                if (!force)
                {
                    Warn("ApplyPolicy: the tailnet's policy (-) against the file (+):\n" + string.Join('\n', diff));
                    throw new PipelineException(Redact($"ApplyPolicy: the tailnet's policy was edited outside the repository ({why}); nothing was written. Carry the edit into {file.Source} (the difference is above), or apply over it with --policy-force."));
                }
                Warn($"ApplyPolicy: the tailnet's policy was edited outside the repository ({why}); --policy-force: overwriting it.");
            }
            else
            {
                Info($"ApplyPolicy: the tailnet's policy is the repository's version of commit {fromRepository.Commit[..Math.Min(12, fromRepository.Commit.Length)]}.");
            }

            Info($"ApplyPolicy: writing {file.Source} (If-Match {current.ETag}). What changes (- now, + then):\n" + string.Join('\n', TextDiff.Lines(currentPolicy.Canonical, file.Canonical)));
            try
            {
                await Retry("policy write", c => client.SetAsync(token, text, current.ETag, c), ct);
            }
            catch (PolicyConflictException e)
            {
                // A retried write whose first attempt went through also sees 412: look before failing.
                var now = await Retry("policy read", c => client.GetAsync(token, c), ct);
                if (ParseAnswer(now.Text).Canonical != file.Canonical) throw new PipelineException(Redact("ApplyPolicy: " + e.Message));
            }
            Info($"ApplyPolicy: applied {file.Source} to the tailnet.");
            return ApplyOutcome.Applied;
        }, cancellationToken);

    private static string? TryCanonical(string text)
    {
        try
        {
            return PolicyDocument.Parse(text, "history").Canonical;
        }
        catch (HuJsonException)
        {
            return null;
        }
    }

    private static PolicyDocument ParseAnswer(string text)
    {
        try
        {
            return PolicyDocument.Parse(text, "the API's answer");
        }
        catch (HuJsonException e)
        {
            // The API's answer, not our input: a failed task (1), not bad input (2).
            throw new TailscaleApiException($"policy read: the answer is not a JSON policy ({e.Message}).", null, transient: false);
        }
    }

    private async Task<(PolicyApiClient Client, string Token)> ConnectAsync(OAuthCredentials credentials, CancellationToken cancellationToken)
    {
        _known.Add(credentials.Secret);
        var api = new TailscaleApiClient(http, credentials.ApiBase, OAuthClientKind.Policy);
        var token = await Retry("token request", c => api.GetTokenAsync(credentials.ClientId, credentials.Secret, c), cancellationToken);
        _known.Add(token);
        return (new PolicyApiClient(http, api), token);
    }

    private async Task<T> Guard<T>(Func<CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        try
        {
            return await body(cancellationToken);
        }
        catch (Exception e) when (e is TailscaleApiException or HttpRequestException or TimeoutRejectedException)
        {
            throw new PipelineException(Redact($"{Describe(e).TrimEnd('.')}; nothing was written."), ExitCodes.TaskFailed, e);
        }
    }

    private async Task<T> Retry<T>(string what, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken) =>
        await Pipeline(what).ExecuteAsync(async ct => await call(ct), cancellationToken);

    private async Task Retry(string what, Func<CancellationToken, Task> call, CancellationToken cancellationToken) =>
        await Pipeline(what).ExecuteAsync(async ct => await call(ct), cancellationToken);

    private ResiliencePipeline Pipeline(string what) =>
        RetryPipeline.Create(new RetryPolicy
        {
            Attempts = options.Attempts,
            Delay = options.RetryDelay,
            AttemptTimeout = options.AttemptTimeout,
            ShouldRetry = TailscaleApiException.IsTransient,
            OnRetry = (attempt, delay, error) =>
                Warn($"{what}, attempt {attempt} of {options.Attempts}: {(error is { } e ? Describe(e) : "failed").TrimEnd('.')}; retrying in {delay.TotalSeconds:0.##}s."),
        }, clock);

    private string Describe(Exception e) => e switch
    {
        TimeoutRejectedException => $"no answer within {options.AttemptTimeout.TotalSeconds:0.#}s",
        HttpRequestException h => $"cannot reach the Tailscale API ({h.Message})",
        _ => e.Message,
    };

    private string Redact(string text) => new Redactor(_known).Redact(text);
    private void Info(string text) => info(Redact(text));
    private void Warn(string text) => warn(Redact(text));
}
