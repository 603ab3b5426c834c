using Cake.Core;

namespace Cake.Frosting;

/// <summary>
/// A task, as the engine sees it. Implement it through <see cref="FrostingTask{T}"/> or
/// <see cref="AsyncFrostingTask{T}"/>: the host refuses a class that implements it directly, as Cake.Frosting does.
/// </summary>
public interface IFrostingTask
{
    Task RunAsync(ICakeContext context);

    bool ShouldRun(ICakeContext context);

    /// <summary>Shown when <see cref="ShouldRun"/> returns false.</summary>
    string SkippedMessage => string.Empty;

    void OnError(Exception exception, ICakeContext context);

    void Finally(ICakeContext context);
}
