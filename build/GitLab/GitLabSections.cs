using Cake.Core;
using Cake.Frosting;

namespace Build.GitLab;

/// <summary>
/// Puts each task's output in a collapsible GitLab log section (only under <c>GITLAB_CI=true</c>).
/// Registered in Program.cs with <c>.UseTaskLifetime&lt;GitLabSections&gt;()</c>.
/// </summary>
/// <remarks>
/// The sections of <see cref="Expanded"/> tasks (Deploy, Rollback) open expanded, so their
/// per-server results and summary are visible without a click. A task that wants its summary
/// outside any section calls <c>context.Sections.End()</c> before printing it; the teardown then
/// has nothing left to close.
/// </remarks>
public sealed class GitLabSections : FrostingTaskLifetime<BuildContext>
{
    /// <summary>Tasks whose output is the result a reader came for.</summary>
    public static readonly IReadOnlySet<string> Expanded = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "Deploy", "Rollback" };

    public override void Setup(BuildContext context, ITaskSetupContext info) => Begin(context.Sections, info.Task.Name);

    public override void Teardown(BuildContext context, ITaskTeardownContext info) => Finish(context.Sections, info.Task.Name);

    public static string SectionName(string task) => LogSections.ValidName("task_" + task.ToLowerInvariant());

    public static void Begin(LogSections sections, string task) =>
        sections.Start(SectionName(task), task, collapsed: !Expanded.Contains(task));

    public static void Finish(LogSections sections, string task) => sections.End(SectionName(task));
}
