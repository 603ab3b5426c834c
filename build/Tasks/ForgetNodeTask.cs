using Build.Settings;
using Build.Tailnet;
using Build.Tailnet.Api;
using Cake.Common.Diagnostics;
using Cake.Frosting;

namespace Build.Tasks;

/// <summary>
/// The after_script fallback: if this job's tailnet node (artifacts/tailnet.json) is still
/// registered, delete it through the Tailscale API. Every problem past its own settings is a warning.
/// </summary>
[TaskName("ForgetNode")]
[TaskDescription("Fallback cleanup (after_script): deletes this job's tailnet node through the Tailscale API if still registered; never fails")]
[UsesSettings(typeof(TailscaleApiSettings))]
public sealed class ForgetNodeTask : AsyncFrostingTask<BuildContext>
{
    public override async Task RunAsync(BuildContext context)
    {
        var api = context.TailscaleApi;
        try
        {
            var options = new ForgetNodeOptions { Attempts = api.Retry.Attempts, RetryDelay = api.Retry.Delay };
            using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            http.DefaultRequestHeaders.UserAgent.ParseAdd("blog-pipeline-forgetnode/1.0");
            var forgetter = new NodeForgetter(http, TimeProvider.System, options,
                line => context.Information("{0}", line),
                line => context.Warning("{0}", line));
            await forgetter.ForgetAsync(Path.Join(context.Artifacts, TailnetRecord.FileName), api.Secret, api.ClientId, api.ApiUrl, context.CancellationToken);
        }
        catch (Exception e)
        {
            context.Warning("ForgetNode: {0} (ignored: this cleanup never fails the job).", e.Message);
        }
    }
}
