using Cake.Core;

namespace Cake.Frosting;

public abstract class AsyncFrostingTask : AsyncFrostingTask<ICakeContext>;

public abstract class AsyncFrostingTask<T> : IFrostingTask where T : ICakeContext
{
    public virtual Task RunAsync(T context) => Task.CompletedTask;
    public virtual bool ShouldRun(T context) => true;
    public virtual void OnError(Exception exception, T context) { }
    public virtual void Finally(T context) { }

    Task IFrostingTask.RunAsync(ICakeContext context) => RunAsync((T)context);
    bool IFrostingTask.ShouldRun(ICakeContext context) => ShouldRun((T)context);
    void IFrostingTask.OnError(Exception exception, ICakeContext context) => OnError(exception, (T)context);
    void IFrostingTask.Finally(ICakeContext context) => Finally((T)context);
}
