using Build.Output;
using Build.Settings;
using Build.Tailnet;
using Build.Tailnet.Api;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

/// <summary>
/// The after_script fallback: if this job's tailnet node (artifacts/tailnet.json) is still
/// registered, delete it through the Tailscale API. Always succeeds: every problem is a warning.
/// </summary>
[TaskName("ForgetNode")]
[TaskDescription("Fallback cleanup (after_script): deletes this job's tailnet node through the Tailscale API if still registered; never fails")]
public sealed class ForgetNodeTask : AsyncFrostingTask<BuildContext>
{
    public override async Task RunAsync(BuildContext context)
    {
        try
        {
            var options = new ForgetNodeOptions();
            try
            {
                options = options with { Attempts = context.Settings.Retries, RetryDelay = context.Settings.RetryDelay };
            }
            catch (SettingsException e)
            {
                context.Warning("ForgetNode: {0} (ignored here: the cleanup goes on with its defaults).", e.Message);
            }
            string? apiUrl = null;
            try
            {
                // TS_API_URL only counts when given: otherwise a baseURL attribute on the secret decides.
                var source = new SettingsSource(
                    name => context.Arguments.GetArguments(name).ToArray(),
                    Environment.GetEnvironmentVariable,
                    Path.Join(context.Root, "deploy.json"));
                apiUrl = source.Get("ts-api-url", "TS_API_URL")?.Value;
            }
            catch (SettingsException e)
            {
                context.Warning("ForgetNode: {0}", e.Message);
            }
            var secret = Environment.GetEnvironmentVariable("TS_OAUTH_SECRET") is { Length: > 0 } s ? SecretValue.Resolve(s) : null;
            var clientId = Environment.GetEnvironmentVariable("TS_OAUTH_CLIENT_ID") is { Length: > 0 } c ? SecretValue.Resolve(c).Trim() : null;

            using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            http.DefaultRequestHeaders.UserAgent.ParseAdd("blog-pipeline-forgetnode/1.0");
            var forgetter = new NodeForgetter(http, TimeProvider.System, options,
                line => context.Information("{0}", line),
                line => context.Warning("{0}", line));
            await forgetter.ForgetAsync(Path.Join(context.Artifacts, TailnetRecord.FileName), secret, clientId, apiUrl, context.CancellationToken);
        }
        catch (Exception e)
        {
            context.Warning("ForgetNode: {0} (ignored: this cleanup never fails the job).", e.Message);
        }
    }
}
