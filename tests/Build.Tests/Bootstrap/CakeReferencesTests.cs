using Build.Tests.Support;
using TestHosts;

namespace Build.Tests.Bootstrap;

/// <summary>
/// build/Cake.props finds the Cake assemblies inside the Cake.Tool package wherever NuGet keeps
/// packages: GitLab's NUGET_PACKAGES ($CI_PROJECT_DIR/.nuget/packages) has no trailing slash.
/// </summary>
public sealed class CakeReferencesTests
{
    [Theory]
    [InlineData("/cache/.nuget/packages")]
    [InlineData("/cache/.nuget/packages/")]
    public async Task The_Cake_hint_paths_hold_with_or_without_a_trailing_slash_on_the_package_root(string packageRoot)
    {
        var result = await LocalProcess.RunAsync("dotnet",
            ["msbuild", Repo.File("build", "Build.csproj"), "-nologo", $"-p:NuGetPackageRoot={packageRoot}", "-getProperty:CakeToolDir"]);

        Assert.True(result.ExitCode == 0, result.Error + result.Output);
        Assert.Equal("/cache/.nuget/packages/cake.tool/7.0.0/tools/net10.0/any/", result.Output.Trim());
    }
}
