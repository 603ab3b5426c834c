using System.Diagnostics;

namespace Build.Tests.Support;

/// <summary>PowerShell from its dotnet tool, installed into .build/tools on first use.</summary>
public static class PowerShell
{
    private static readonly Lazy<string> LazyDll = new(Locate);

    /// <summary>pwsh.dll, run with <see cref="Dotnet"/> so its runtime never depends on the PATH under test.</summary>
    public static string Dll => LazyDll.Value;

    public static string Dotnet { get; } =
        Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "/usr/share/dotnet/dotnet";

    private static string Locate()
    {
        var tools = Path.Join(Repo.Root, ".build", "tools");
        var dll = Find(tools);
        if (dll is not null) return dll;
        using var install = Process.Start(new ProcessStartInfo("dotnet", ["tool", "install", "--tool-path", tools, "PowerShell", "--version", "7.6.9"]))!;
        install.WaitForExit();
        return Find(tools) ?? throw new InvalidOperationException("Could not install the PowerShell dotnet tool into " + tools);
    }

    private static string? Find(string tools) =>
        Directory.Exists(Path.Join(tools, ".store"))
            ? Directory.EnumerateFiles(Path.Join(tools, ".store"), "pwsh.dll", SearchOption.AllDirectories)
                .FirstOrDefault(f => f.Contains($"{Path.DirectorySeparatorChar}unix{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            : null;
}
