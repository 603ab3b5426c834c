using System.Text;

namespace Build.Tailnet;

/// <summary>Makes a host name a valid DNS label: lowercase letters, digits and '-', 63 characters at most.</summary>
public static class DnsLabel
{
    public const int MaxLength = 63;

    public static string From(string name)
    {
        var label = new StringBuilder(name.Length);
        foreach (var c in name.Trim().ToLowerInvariant())
        {
            var ok = c is >= 'a' and <= 'z' or >= '0' and <= '9';
            if (ok) label.Append(c);
            else if (label.Length > 0 && label[^1] != '-') label.Append('-');
        }
        var text = label.ToString().Trim('-');
        if (text.Length > MaxLength) text = text[..MaxLength].TrimEnd('-');
        return text.Length == 0 ? "ci" : text;
    }
}
