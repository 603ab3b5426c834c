using Cake.Core;
using Cake.Core.Diagnostics;
using Cake.Frosting;
using Cake.Frosting.Internal;

namespace Frosting.Tests;

public sealed class TaskRegistrarTests
{
    /// <summary>Implements the interface directly: the package cannot tell what it overrides, and refuses it.</summary>
    public sealed class Bare : IFrostingTask
    {
        public Task RunAsync(ICakeContext context) => Task.CompletedTask;
        public bool ShouldRun(ICakeContext context) => true;
        public void OnError(Exception exception, ICakeContext context) { }
        public void Finally(ICakeContext context) { }
    }

    [Fact]
    public void A_task_implementing_IFrostingTask_directly_is_refused_naming_it()
    {
        var engine = new CakeEngine(new CakeDataService(), new NullLog());

        var error = Assert.Throws<FrostingException>(() => TaskRegistrar.Register(engine, null!, [new Bare()], new NullLog()));

        Assert.Contains("'Bare'", error.Message);
        Assert.Contains("FrostingTask<TContext>", error.Message);
        Assert.Empty(engine.Tasks);
    }

    [Fact]
    public void The_attributes_are_not_inherited_as_in_the_package()
    {
        foreach (var attribute in new[] { typeof(TaskNameAttribute), typeof(TaskDescriptionAttribute), typeof(ContinueOnErrorAttribute) })
        {
            var usage = (AttributeUsageAttribute)Attribute.GetCustomAttribute(attribute, typeof(AttributeUsageAttribute))!;
            Assert.False(usage.Inherited, attribute.Name);
            Assert.False(usage.AllowMultiple, attribute.Name);
        }
    }
}
