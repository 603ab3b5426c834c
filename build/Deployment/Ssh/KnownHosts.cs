using System.Security.Cryptography;
using System.Text;

namespace Build.Deployment.Ssh;

public enum HostKeyStatus { Trusted, Unknown, Mismatch, Revoked }

/// <summary>The verdict on a server's host key, with a message that says what to do.</summary>
public sealed record HostKeyVerdict(HostKeyStatus Status, string KeyType, string FingerprintSha256, string SuggestedLine, string Message)
{
    public bool IsTrusted => Status == HostKeyStatus.Trusted;
}

/// <summary>
/// An OpenSSH known_hosts file: several keys per host, <c>[host]:port</c> for ports other than 22,
/// comma-separated patterns with <c>*</c>/<c>?</c> and <c>!</c> negation, hashed <c>|1|salt|hash</c>
/// names (HMAC-SHA1), <c>@revoked</c> entries; <c>@cert-authority</c> lines are ignored (no CA trust).
/// Keys are compared as blobs: the algorithm negotiated (rsa-sha2-512) may differ from the entry's type (ssh-rsa).
/// </summary>
public sealed class KnownHosts
{
    private readonly IReadOnlyList<Entry> _entries;

    private KnownHosts(IReadOnlyList<Entry> entries) => _entries = entries;

    public int Count => _entries.Count;

    public static KnownHosts Parse(string text)
    {
        var entries = new List<Entry>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            var revoked = false;
            var index = 0;
            if (fields[0].StartsWith('@'))
            {
                if (fields[0] == "@revoked") revoked = true;
                else continue; // @cert-authority and unknown markers: not trusted here.
                index = 1;
            }
            if (fields.Length < index + 3) continue;
            byte[] blob;
            try { blob = Convert.FromBase64String(fields[index + 2]); }
            catch (FormatException) { continue; }
            // The blob carries its own type; an entry whose two disagree is corrupt and ignored.
            if (BlobType(blob) != fields[index + 1]) continue;
            entries.Add(new Entry(fields[index], fields[index + 1], blob, revoked));
        }
        return new KnownHosts(entries);
    }

    /// <summary>The key types (as in known_hosts: ssh-ed25519, ssh-rsa, ...) trusted for any of these names.</summary>
    public IReadOnlyList<string> KnownKeyTypes(IEnumerable<string> names, int port)
    {
        var matching = Matching(names, port).ToArray();
        var revoked = matching.Where(e => e.Revoked).Select(e => e.Blob).ToArray();
        // A revoked key does not make its type worth offering; another key of a still trusted type does.
        return matching.Where(e => !e.Revoked && !revoked.Any(r => r.AsSpan().SequenceEqual(e.Blob)))
            .Select(e => e.KeyType).Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Checks a host key blob presented by a server known by <paramref name="names"/> at <paramref name="port"/>.</summary>
    public HostKeyVerdict Check(IReadOnlyList<string> names, int port, byte[] keyBlob, string? displayName = null)
    {
        var type = BlobType(keyBlob) ?? "unknown";
        var fingerprint = FingerprintSha256(keyBlob);
        var primary = names.Count > 0 ? names[0] : "host";
        var line = $"{HostPattern(primary, port)} {type} {Convert.ToBase64String(keyBlob)}";
        var server = displayName ?? primary;
        var matching = Matching(names, port).ToArray();

        if (matching.Any(e => e.Revoked && e.Blob.AsSpan().SequenceEqual(keyBlob)))
            return new(HostKeyStatus.Revoked, type, fingerprint, line,
                $"Host key of {server} ({type} SHA256:{fingerprint}) is marked @revoked in known_hosts. Refusing to connect; replace the server's host key.");
        if (matching.Any(e => !e.Revoked && e.Blob.AsSpan().SequenceEqual(keyBlob)))
            return new(HostKeyStatus.Trusted, type, fingerprint, line, $"Host key of {server} is trusted.");

        var known = matching.Where(e => !e.Revoked).ToArray();
        if (known.Length > 0)
            return new(HostKeyStatus.Mismatch, type, fingerprint, line,
                $"HOST KEY MISMATCH for {server}: it presented {type} SHA256:{fingerprint}, which does not match the "
                + $"{string.Join(", ", known.Select(e => e.KeyType).Distinct())} key(s) known_hosts holds for {string.Join(", ", names.Select(n => HostPattern(n, port)).Distinct())}. "
                + "Someone may be intercepting the connection, or the host key was changed. Not retried. If the change is expected, "
                + $"verify the new fingerprint out of band and replace the entry with: {line}");
        return new(HostKeyStatus.Unknown, type, fingerprint, line,
            $"Unknown host {server}: no known_hosts entry for {string.Join(", ", names.Select(n => HostPattern(n, port)).Distinct())}. "
            + $"It presented {type} SHA256:{fingerprint}. If that fingerprint is right (check it on the server with "
            + $"`ssh-keygen -lf /etc/ssh/ssh_host_{ShortType(type)}_key.pub`), add this line to known_hosts (--known-hosts / SSH_KNOWN_HOSTS): {line}");
    }

    /// <summary>OpenSSH's name for a host in known_hosts: <c>host</c> on port 22, else <c>[host]:port</c>.</summary>
    public static string HostPattern(string host, int port) => port == 22 ? host : $"[{host}]:{port}";

    /// <summary>SHA256 fingerprint as OpenSSH prints it after "SHA256:" (unpadded base64).</summary>
    public static string FingerprintSha256(byte[] blob) => Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');

    /// <summary>The key type string at the start of an SSH public key blob.</summary>
    public static string? BlobType(byte[] blob)
    {
        if (blob.Length < 4) return null;
        var length = (blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3];
        if (length <= 0 || length > 64 || 4 + length > blob.Length) return null;
        return Encoding.ASCII.GetString(blob, 4, length);
    }

    private static string ShortType(string type) => type switch
    {
        "ssh-ed25519" => "ed25519",
        "ssh-rsa" => "rsa",
        _ when type.StartsWith("ecdsa-", StringComparison.Ordinal) => "ecdsa",
        _ => "*",
    };

    private IEnumerable<Entry> Matching(IEnumerable<string> names, int port)
    {
        var candidates = names.Where(n => n.Length > 0).Select(n => HostPattern(n.ToLowerInvariant(), port)).Distinct().ToArray();
        return _entries.Where(e => candidates.Any(e.Matches));
    }

    private sealed record Entry(string Hosts, string KeyType, byte[] Blob, bool Revoked)
    {
        public bool Matches(string candidate)
        {
            if (Hosts.StartsWith("|1|", StringComparison.Ordinal)) return HashedMatches(candidate);
            var matched = false;
            foreach (var pattern in Hosts.Split(','))
            {
                if (pattern.Length == 0) continue;
                var negated = pattern[0] == '!';
                var p = negated ? pattern[1..] : pattern;
                if (!Glob(p.ToLowerInvariant(), candidate)) continue;
                if (negated) return false; // A negated match wins over any positive one.
                matched = true;
            }
            return matched;
        }

        private bool HashedMatches(string candidate)
        {
            var parts = Hosts.Split('|');
            if (parts.Length != 4) return false;
            try
            {
                var salt = Convert.FromBase64String(parts[2]);
                var hash = Convert.FromBase64String(parts[3]);
                var computed = HMACSHA1.HashData(salt, Encoding.UTF8.GetBytes(candidate));
                return CryptographicOperations.FixedTimeEquals(computed, hash);
            }
            catch (FormatException)
            {
                return false;
            }
        }

        private static bool Glob(string pattern, string text)
        {
            // Iterative '*' / '?' matcher (OpenSSH's match_pattern semantics).
            int p = 0, t = 0, star = -1, mark = 0;
            while (t < text.Length)
            {
                if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t])) { p++; t++; }
                else if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = t; }
                else if (star >= 0) { p = star + 1; t = ++mark; }
                else return false;
            }
            while (p < pattern.Length && pattern[p] == '*') p++;
            return p == pattern.Length;
        }
    }
}
