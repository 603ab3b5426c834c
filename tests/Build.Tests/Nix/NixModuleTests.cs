using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Build.Tests.Support;

namespace Build.Tests.Nix;

/// <summary>
/// A fact that runs only where <c>nix-instantiate</c> is on PATH (Debian: <c>apt-get install nix-bin</c>;
/// the Test target installs it as root), and is skipped with that reason elsewhere.
/// </summary>
public sealed class NixFactAttribute : FactAttribute
{
    public NixFactAttribute()
    {
        if (NixInstantiate.Path is null)
            Skip = "nix-instantiate is not on PATH (Debian: apt-get install nix-bin; the Test target installs it as root)";
    }
}

/// <summary>Runs nix-instantiate offline and bounded: no NIX_PATH, no substituters, the dummy store
/// (an unprivileged user cannot open /nix/var's daemon socket, and evaluation needs no store), a
/// temporary HOME, and a 60-second limit.</summary>
internal static class NixInstantiate
{
    public static readonly string? Path = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(d => System.IO.Path.Join(d, "nix-instantiate"))
        .FirstOrDefault(File.Exists);

    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] arguments)
    {
        using var home = new TempDir("nixhome");
        var info = new ProcessStartInfo(Path!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repo.Root,
        };
        foreach (var a in new[] { "--store", "dummy://", "--option", "substituters", "" }.Concat(arguments))
            info.ArgumentList.Add(a);
        info.Environment["NIX_PATH"] = "";
        info.Environment["HOME"] = home.Path;
        info.Environment["XDG_CACHE_HOME"] = System.IO.Path.Join(home.Path, "cache");
        info.Environment.Remove("NIX_REMOTE");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("nix-instantiate " + string.Join(' ', arguments) + " took over 60 s");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    public static string Parse(string file)
    {
        var (code, stdout, stderr) = Run("--parse", file);
        Assert.True(code == 0, $"nix-instantiate --parse {file} exited {code}:\n{stderr}");
        return stdout;
    }

    /// <summary>eval-module.nix on the module; <paramref name="args"/> are extra <c>--arg</c>/<c>--argstr</c> pairs.</summary>
    public static JsonElement EvalModule(params string[] args)
    {
        var (code, stdout, stderr) = Run([
            "--eval", "--strict", "--json", Repo.File("tests", "Build.Tests", "Nix", "eval-module.nix"),
            "--arg", "module", Repo.File("nix", "blog-server.nix"), .. args]);
        Assert.True(code == 0, $"eval-module.nix exited {code}:\n{stderr}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }
}

/// <summary>What the README says about the NixOS module: its example and its mapping table.</summary>
internal static class ReadmeNixos
{
    private static string Section()
    {
        var readme = File.ReadAllText(Repo.File("README.md"));
        var start = readme.IndexOf("\n#### NixOS\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '#### NixOS' subsection");
        var end = readme.IndexOf("\n#", start + 5, StringComparison.Ordinal);
        return end < 0 ? readme[start..] : readme[start..end];
    }

    /// <summary>The first ```nix block of the NixOS subsection: the configuration.nix example.</summary>
    public static string Example()
    {
        var match = Regex.Match(Section(), "```nix\n(.*?)```", RegexOptions.Singleline);
        Assert.True(match.Success, "the README's NixOS subsection has no ```nix block");
        return match.Groups[1].Value;
    }

    /// <summary>The rows of the table "| pipeline setting | module option | ... |": setting → option.</summary>
    public static IReadOnlyDictionary<string, string> Mapping()
    {
        var lines = Section().Split('\n');
        var header = Array.FindIndex(lines, l => l.StartsWith("| pipeline setting | module option |", StringComparison.Ordinal));
        Assert.True(header >= 0, "the README's NixOS subsection has no '| pipeline setting | module option |' table");
        var rows = new Dictionary<string, string>();
        foreach (var line in lines.Skip(header + 2).TakeWhile(l => l.StartsWith('|')))
        {
            var cells = line.Split('|').Select(c => c.Trim()).ToArray();
            rows[cells[1].Trim('`')] = cells[2].Trim('`');
        }
        return rows;
    }

    /// <summary>The default column of the README's settings table (argument, environment, default, meaning) for an argument.</summary>
    public static string SettingDefault(string argument)
    {
        var line = File.ReadAllLines(Repo.File("README.md"))
            .Single(l => l.StartsWith($"| `{argument}` |", StringComparison.Ordinal) && l.Split('|').Length == 6);
        return line.Split('|')[3].Trim().Trim('`');
    }
}

public sealed class NixModuleTests
{
    private static readonly string[] PipelineSettings = ["--ssh-user", "--remote-root", "--tags", "--health-url"];

    private static HashSet<string> OptionPaths(JsonElement result) =>
        result.GetProperty("options").EnumerateArray().Select(o => o.GetProperty("path").GetString()!).ToHashSet();

    private static JsonElement At(JsonElement e, params string[] path)
    {
        foreach (var p in path)
        {
            JsonElement next = default;
            Assert.True(e.ValueKind == JsonValueKind.Object && e.TryGetProperty(p, out next), $"no '{p}' in {e}");
            e = next;
        }
        return e;
    }

    [NixFact]
    public void ModuleParses()
    {
        var parsed = NixInstantiate.Parse(Repo.File("nix", "blog-server.nix"));
        Assert.Contains("blog-deploy", parsed);
    }

    [NixFact]
    public void ReadmeExampleParses()
    {
        using var dir = new TempDir("nixexample");
        var example = dir.File("configuration.nix", ReadmeNixos.Example());
        var parsed = NixInstantiate.Parse(example);
        Assert.Contains("blog-server.nix", parsed);
        Assert.Contains("blog-deploy", parsed);
    }

    [NixFact]
    public void OptionDefaults_StructureOnly_AgainstStandInLib()
    {
        var result = NixInstantiate.EvalModule();
        var options = result.GetProperty("options").EnumerateArray()
            .ToDictionary(o => o.GetProperty("path").GetString()!, o => o);

        Assert.Equal(
            new[]
            {
                "acme.email", "acme.enable", "authorizedKeys", "cacheMaxAge", "domain", "enable", "healthHosts", "root",
                "tailscale.authKeyFile", "tailscale.enable", "tailscale.onlySsh", "tailscale.tags", "user",
            }.Select(o => "services.blog-deploy." + o).Order(),
            options.Keys.Order());
        Assert.All(options.Values, o => Assert.True(o.GetProperty("defaultMatchesType").GetBoolean(), $"default does not match type: {o}"));
        Assert.False(options["services.blog-deploy.enable"].GetProperty("default").GetBoolean());
        Assert.False(options["services.blog-deploy.tailscale.onlySsh"].GetProperty("default").GetBoolean());

        // Same defaults as the pipeline's settings, so a default server and a default deploy agree.
        Assert.Equal(ReadmeNixos.SettingDefault("--ssh-user"), options["services.blog-deploy.user"].GetProperty("default").GetString());
        Assert.Equal(ReadmeNixos.SettingDefault("--remote-root"), options["services.blog-deploy.root"].GetProperty("default").GetString());

        // Not enabled: the module configures nothing.
        Assert.Empty(result.GetProperty("config").EnumerateObject());
    }

    [NixFact]
    public void EnabledAtDefaults_StructureOnly_AgainstStandInLib()
    {
        var result = NixInstantiate.EvalModule("--arg", "settings", "{ enable = true; }");
        var config = result.GetProperty("config");
        Assert.Empty(result.GetProperty("failedAssertions").EnumerateArray());

        var user = At(config, "users", "users", "deploy");
        Assert.True(At(user, "isNormalUser").GetBoolean());
        Assert.Equal("*", At(user, "hashedPassword").GetString());
        Assert.False(user.TryGetProperty("extraGroups", out _), "the deploy user gets no extra groups (no wheel, no sudo)");
        Assert.Equal(
            ["coreutils", "findutils", "gawk", "gnutar", "gzip", "zstd"],
            At(user, "packages").EnumerateArray().Select(p => p.GetProperty("name").GetString()!).Order());

        // The root alone, owned by the user; nothing inside it (current, releases/ belong to the deploy).
        var tmpfiles = At(config, "systemd", "tmpfiles", "settings", "10-blog-deploy");
        Assert.Equal(["/var/www/blog"], tmpfiles.EnumerateObject().Select(p => p.Name));
        var dir = At(tmpfiles, "/var/www/blog", "d");
        Assert.Equal("deploy", At(dir, "user").GetString());
        Assert.Equal("0755", At(dir, "mode").GetString());
        Assert.DoesNotContain("current", config.ToString().Replace("/var/www/blog/current", ""));

        Assert.True(At(config, "services", "openssh", "enable").GetBoolean());
        var services = At(config, "services");
        Assert.False(services.TryGetProperty("nginx", out _), "no domain, no nginx");
        Assert.False(services.TryGetProperty("tailscale", out _), "Tailscale is optional");
        Assert.False(At(config, "services", "openssh").TryGetProperty("openFirewall", out _), "SSH stays as NixOS opens it without onlySsh");
    }

    [NixFact]
    public void EverythingOn_StructureOnly_AgainstStandInLib()
    {
        var result = NixInstantiate.EvalModule("--arg", "settings", """
            { enable = true; user = "web"; root = "/srv/blog"; domain = "blog.example.org";
              acme = { enable = true; email = "admin@example.org"; };
              healthHosts = [ "server1.example-tailnet.ts.net" ];
              authorizedKeys = [ "ssh-ed25519 AAAAkey ci" ];
              tailscale = { enable = true; authKeyFile = "/run/secrets/ts"; tags = [ "tag:server1" "tag:web" ]; onlySsh = true; }; }
            """);
        var config = result.GetProperty("config");
        Assert.Empty(result.GetProperty("failedAssertions").EnumerateArray());

        Assert.Equal(["ssh-ed25519 AAAAkey ci"], At(config, "users", "users", "web", "openssh", "authorizedKeys", "keys").EnumerateArray().Select(k => k.GetString()));
        Assert.Equal("web", At(config, "systemd", "tmpfiles", "settings", "10-blog-deploy", "/srv/blog", "d", "user").GetString());

        var vhost = At(config, "services", "nginx", "virtualHosts", "blog.example.org");
        Assert.Equal("/srv/blog/current", At(vhost, "root").GetString());
        Assert.True(At(vhost, "enableACME").GetBoolean());
        Assert.True(At(vhost, "forceSSL").GetBoolean());
        var release = At(vhost, "locations", "= /.well-known/release", "extraConfig").GetString()!;
        Assert.Contains("Cache-Control \"no-store\" always", release);
        Assert.Contains("default_type text/plain", release);
        Assert.Contains("no-cache", At(vhost, "locations", "~* \\.(?:html?|xml|json|txt)$", "extraConfig").GetString());
        Assert.Contains("max-age=3600", At(vhost, "locations", "/", "extraConfig").GetString());
        Assert.True(At(config, "security", "acme", "acceptTerms").GetBoolean());
        Assert.Equal("admin@example.org", At(config, "security", "acme", "defaults", "email").GetString());

        var health = At(config, "services", "nginx", "virtualHosts", "blog-deploy-health");
        Assert.Equal("server1.example-tailnet.ts.net", At(health, "serverName").GetString());
        Assert.Equal("/srv/blog/current", At(health, "root").GetString());
        Assert.True(At(health, "locations").TryGetProperty("= /.well-known/release", out _));
        Assert.False(health.TryGetProperty("forceSSL", out _), "the health check's plain HTTP is never redirected");

        var tailscale = At(config, "services", "tailscale");
        Assert.True(At(tailscale, "enable").GetBoolean());
        Assert.Equal("/run/secrets/ts", At(tailscale, "authKeyFile").GetString());
        Assert.Equal(["--advertise-tags=tag:server1,tag:web"], At(tailscale, "extraUpFlags").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(["--no-logs-no-support"], At(tailscale, "extraDaemonFlags").EnumerateArray().Select(f => f.GetString()));

        Assert.Equal([22, 80], At(config, "networking", "firewall", "interfaces", "tailscale0", "allowedTCPPorts").EnumerateArray().Select(p => p.GetInt32()));
        Assert.Equal([80, 443], At(config, "networking", "firewall", "allowedTCPPorts").EnumerateArray().Select(p => p.GetInt32()));
        Assert.False(At(config, "services", "openssh", "openFirewall").GetBoolean());
    }

    [NixFact]
    public void BadSettingsFailTheModulesAssertions_StructureOnly_AgainstStandInLib()
    {
        var result = NixInstantiate.EvalModule("--arg", "settings", """
            { enable = true; root = "var/www/../blog"; acme.enable = true;
              tailscale = { tags = [ "server1" ]; onlySsh = true; }; }
            """);
        var failed = result.GetProperty("failedAssertions").EnumerateArray().Select(m => m.GetString()!).ToArray();
        Assert.Equal(4, failed.Length);
        Assert.Contains(failed, m => m.Contains("root must be an absolute path"));
        Assert.Contains(failed, m => m.Contains("acme.enable needs"));
        Assert.Contains(failed, m => m.Contains("must look like tag:server1"));
        Assert.Contains(failed, m => m.Contains("onlySsh needs"));
    }

    [NixFact]
    public void ReadmeMapsEveryPipelineSettingToAnOptionOfTheModule()
    {
        var mapping = ReadmeNixos.Mapping();
        Assert.Equal(PipelineSettings.Order(), mapping.Keys.Order());
        var options = OptionPaths(NixInstantiate.EvalModule());
        Assert.All(mapping, m => Assert.True(options.Contains(m.Value), $"{m.Key} maps to {m.Value}, which the module does not declare"));

        // Every mapped setting's default is the pipeline's own (--health-url has none: it is off unless given).
        foreach (var setting in PipelineSettings.Where(s => s != "--health-url"))
            ReadmeNixos.SettingDefault(setting);
        Assert.Contains("http://{dns}/.well-known/release", File.ReadAllText(Repo.File("README.md")));
    }

    [NixFact]
    public void ReadmeExampleSetsOnlyOptionsOfTheModule_StructureOnly_AgainstStandInLib()
    {
        using var dir = new TempDir("nixexample");
        var example = dir.File("configuration.nix", ReadmeNixos.Example());
        var result = NixInstantiate.EvalModule("--arg", "example", example);
        var options = OptionPaths(result);
        var set = result.GetProperty("exampleSettings").EnumerateArray().Select(s => s.GetString()!).ToArray();
        Assert.Contains("services.blog-deploy.enable", set);
        Assert.All(set, s => Assert.True(options.Contains(s), $"the README's example sets {s}, which the module does not declare"));
        Assert.Empty(result.GetProperty("failedAssertions").EnumerateArray());
        Assert.Equal(["--advertise-tags=tag:server1"],
            At(result.GetProperty("config"), "services", "tailscale", "extraUpFlags").EnumerateArray().Select(f => f.GetString()));
    }
}
