using Build.Docker;
using Cake.Core;
using Cake.Core.Configuration;
using Cake.Core.Diagnostics;
using Cake.Core.IO;
using Cake.Core.Tooling;

namespace Build.Tests.Docker;

/// <summary>
/// A context for the Docker aliases, as the pipeline's BuildContext is one (<see cref="IDockerHost"/>):
/// docker from the fake's PATH, a token the test controls. The aliases read nothing else of it.
/// </summary>
public sealed class DockerTestContext(DockerClient docker, CancellationToken cancellationToken = default) : ICakeContext, IDockerHost
{
    public DockerClient Docker => docker;
    public CancellationToken CancellationToken => cancellationToken;

    public IFileSystem FileSystem => throw new NotSupportedException();
    public ICakeEnvironment Environment => throw new NotSupportedException();
    public IGlobber Globber => throw new NotSupportedException();
    public ICakeLog Log => throw new NotSupportedException();
    public ICakeArguments Arguments => throw new NotSupportedException();
    public IProcessRunner ProcessRunner => throw new NotSupportedException();
    public IRegistry Registry => throw new NotSupportedException();
    public IToolLocator Tools => throw new NotSupportedException();
    public ICakeDataResolver Data => throw new NotSupportedException();
    public ICakeConfiguration Configuration => throw new NotSupportedException();
}
