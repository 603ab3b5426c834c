namespace Build.Deployment.Health;

/// <summary>
/// The health check as the deploy uses it: each server's URL from <c>--health-url</c>, checked for a release id within
/// <c>--health-timeout</c>; and what the marker URL serves now, for the Releases listing.
/// </summary>
public sealed class HealthGate(HealthSettings settings, IHealthProbe probe, TimeProvider time)
{
    private readonly HealthCheck _check = new(probe, settings, time);

    public HealthSettings Settings => settings;

    public bool SwitchesBack => settings.OnUnhealthy == OnUnhealthy.SwitchBack;

    public async Task<HealthResult> CheckAsync(DeployTarget target, string releaseId, CancellationToken cancellationToken)
    {
        Uri url;
        try
        {
            url = settings.Url!.For(target);
        }
        catch (HealthCheckException e)
        {
            return new HealthResult(false, e.Message, 0, TimeSpan.Zero);
        }
        return await _check.CheckAsync(url, releaseId, cancellationToken);
    }

    /// <summary>The marker URL's body now, or what went wrong (one request).</summary>
    public async Task<string> ServesAsync(DeployTarget target, CancellationToken cancellationToken)
    {
        try
        {
            return await _check.ReadAsync(settings.Url!.For(target), cancellationToken);
        }
        catch (HealthCheckException e)
        {
            return e.Message;
        }
    }
}
