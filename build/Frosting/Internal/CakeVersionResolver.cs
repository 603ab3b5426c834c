using System.Reflection;
using Cake.Cli;
using Cake.Core;

namespace Cake.Frosting.Internal;

/// <summary>
/// The version of Cake the host runs on. Cake.Cli's own resolver reads the entry assembly's file comments
/// (set in the Cake tool), which a build program does not have, and reports "Unknown".
/// </summary>
internal sealed class CakeVersionResolver : IVersionResolver
{
    private static readonly Assembly Cake = typeof(ICakeContext).Assembly;

    public string GetVersion() => Cake.GetName().Version?.ToString(3) ?? "Unknown";

    public string GetProductVersion() =>
        Cake.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? GetVersion();
}
