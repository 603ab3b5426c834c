using System.Text.RegularExpressions;
using Build.Settings;

namespace Build.Deployment.Health;

/// <summary>
/// <c>--health-url</c>: an http(s) URL template with <c>{host}</c> (the address SSH connected to), <c>{dns}</c>
/// (the MagicDNS name, else the address) and <c>{server}</c> (the server name), validated once.
/// </summary>
public sealed partial record HealthUrl
{
    private static readonly string[] Placeholders = ["{host}", "{dns}", "{server}"];

    private HealthUrl(string template) => Template = template;

    public string Template { get; }

    /// <summary>Whether the URL differs per server; without a placeholder every server would be asked the same URL.</summary>
    public bool NamesServer => Placeholders.Any(p => Template.Contains(p, StringComparison.Ordinal));

    public static HealthUrl From(SettingValue value)
    {
        var template = value.Value.Trim();
        if (Braces().Matches(template).Select(m => m.Value).FirstOrDefault(p => !Placeholders.Contains(p)) is { } unknown)
            throw Parse.Error(value, $"unknown placeholder {unknown}", "Use {host}, {dns} or {server}, e.g. http://{host}/.well-known/release.");
        // Checked with a stand-in for each placeholder: what the servers' names make of it is checked per server.
        var sample = Expand(template, "192.0.2.1", "server1.example.ts.net", "server1");
        if (!Uri.TryCreate(sample, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            throw Parse.Error(value, "not an http or https URL", "Give a URL such as http://{host}/.well-known/release.");
        if (uri.UserInfo.Length > 0)
            throw Parse.Error(value, "holds user information", "Leave credentials out of the URL; the health check needs none.");
        return new HealthUrl(template);
    }

    /// <summary>The URL for one server.</summary>
    public Uri For(DeployTarget target)
    {
        var host = target.Address.Contains(':') && !target.Address.StartsWith('[') ? $"[{target.Address}]" : target.Address;
        var dns = target.DnsName is { Length: > 0 } d ? d.TrimEnd('.') : host;
        var text = Expand(Template, host, dns, target.Name);
        return Uri.TryCreate(text, UriKind.Absolute, out var uri)
            ? uri
            : throw new HealthCheckException($"--health-url {Template} makes no valid URL for {target.Name}: {text}");
    }

    private static string Expand(string template, string host, string dns, string server) =>
        template.Replace("{host}", host, StringComparison.Ordinal)
            .Replace("{dns}", dns, StringComparison.Ordinal)
            .Replace("{server}", server, StringComparison.Ordinal);

    public override string ToString() => Template;

    [GeneratedRegex(@"\{[^{}]*\}")]
    private static partial Regex Braces();
}

/// <summary>A health URL that cannot be made for a server: a failed check, never a crash.</summary>
public sealed class HealthCheckException(string message) : Exception(message);
