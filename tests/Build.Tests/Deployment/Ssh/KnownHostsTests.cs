using System.Security.Cryptography;
using System.Text;
using Build.Deployment.Ssh;
using TestHosts;

namespace Build.Tests.Deployment.Ssh;

public sealed class KnownHostsTests
{
    // Well-formed blobs: string type, then key material (random: known_hosts only compares bytes).
    private static byte[] Blob(string type, int material = 32)
    {
        var name = Encoding.ASCII.GetBytes(type);
        var data = RandomNumberGenerator.GetBytes(material);
        var blob = new byte[4 + name.Length + 4 + data.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(blob, name.Length);
        name.CopyTo(blob, 4);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(blob.AsSpan(4 + name.Length), data.Length);
        data.CopyTo(blob, 8 + name.Length);
        return blob;
    }

    private static string Line(string hosts, byte[] blob) => $"{hosts} {KnownHosts.BlobType(blob)} {Convert.ToBase64String(blob)}";

    private readonly byte[] _ed = Blob("ssh-ed25519");
    private readonly byte[] _rsa = Blob("ssh-rsa", 270);
    private readonly byte[] _other = Blob("ssh-ed25519");

    [Fact]
    public void Plain_entry_on_port_22_is_trusted()
    {
        var known = KnownHosts.Parse($"# comment\n\n{Line("10.0.0.5", _ed)}\n");
        Assert.Equal(HostKeyStatus.Trusted, known.Check(["10.0.0.5"], 22, _ed).Status);
        // On another port only the [host]:port form applies, as in OpenSSH.
        Assert.Equal(HostKeyStatus.Unknown, known.Check(["10.0.0.5"], 2222, _ed).Status);
    }

    [Fact]
    public void Bracketed_host_port_entry_matches_only_that_port()
    {
        var known = KnownHosts.Parse(Line("[127.0.0.2]:2222", _ed));
        Assert.Equal(HostKeyStatus.Trusted, known.Check(["127.0.0.2"], 2222, _ed).Status);
        Assert.Equal(HostKeyStatus.Unknown, known.Check(["127.0.0.2"], 2223, _ed).Status);
        Assert.Equal(HostKeyStatus.Unknown, known.Check(["127.0.0.2"], 22, _ed).Status);
    }

    [Fact]
    public void Comma_separated_patterns_wildcards_and_negation()
    {
        var known = KnownHosts.Parse(Line("server1,100.64.0.1,*.example.ts.net,!bad.example.ts.net", _ed) + "\r\n");
        Assert.True(known.Check(["100.64.0.1"], 22, _ed).IsTrusted);
        Assert.True(known.Check(["100.64.0.9", "server1"], 22, _ed).IsTrusted);
        Assert.True(known.Check(["web.example.ts.net"], 22, _ed).IsTrusted);
        Assert.Equal(HostKeyStatus.Unknown, known.Check(["bad.example.ts.net"], 22, _ed).Status);
        Assert.True(known.Check(["SERVER1"], 22, _ed).IsTrusted); // host names are case-insensitive
    }

    [Fact]
    public async Task Hashed_entries_made_by_ssh_keygen_are_matched()
    {
        var dir = Directory.CreateTempSubdirectory("known-hosts-").FullName;
        try
        {
            var file = Path.Join(dir, "known_hosts");
            await File.WriteAllTextAsync(file, Line("server1", _ed) + "\n" + Line("[127.0.0.2]:2222", _rsa) + "\n");
            (await LocalProcess.RunAsync("ssh-keygen", ["-H", "-f", file])).EnsureSuccess("ssh-keygen -H");
            var text = await File.ReadAllTextAsync(file);
            Assert.DoesNotContain("server1", text);
            Assert.StartsWith("|1|", text);

            var known = KnownHosts.Parse(text);
            Assert.True(known.Check(["100.64.0.1", "server1"], 22, _ed).IsTrusted);
            Assert.True(known.Check(["127.0.0.2"], 2222, _rsa).IsTrusted);
            Assert.Equal(HostKeyStatus.Unknown, known.Check(["server2"], 22, _ed).Status);
            Assert.Equal(HostKeyStatus.Mismatch, known.Check(["server1"], 22, _other).Status);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Several_keys_per_host_any_one_is_trusted_and_types_are_listed()
    {
        var known = KnownHosts.Parse(Line("h", _ed) + "\n" + Line("h", _rsa) + "\n" + Line("other", _other));
        Assert.True(known.Check(["h"], 22, _ed).IsTrusted);
        Assert.True(known.Check(["h"], 22, _rsa).IsTrusted);
        Assert.Equal(["ssh-ed25519", "ssh-rsa"], known.KnownKeyTypes(["h"], 22));
        Assert.Equal(["ssh-ed25519"], known.KnownKeyTypes(["other"], 22));
        Assert.Empty(known.KnownKeyTypes(["nobody"], 22));
    }

    [Fact]
    public void Revoked_key_is_rejected_even_if_also_listed()
    {
        var known = KnownHosts.Parse(Line("h", _ed) + "\n@revoked " + Line("*", _ed) + "\n" + Line("h", _rsa));
        var verdict = known.Check(["h"], 22, _ed);
        Assert.Equal(HostKeyStatus.Revoked, verdict.Status);
        Assert.Contains("revoked", verdict.Message);
        Assert.True(known.Check(["h"], 22, _rsa).IsTrusted);
        Assert.Equal(["ssh-rsa"], known.KnownKeyTypes(["h"], 22));
    }

    [Fact]
    public void Cert_authority_lines_are_ignored()
    {
        var known = KnownHosts.Parse("@cert-authority * " + Line("", _ed).Trim());
        Assert.Equal(0, known.Count);
        Assert.Equal(HostKeyStatus.Unknown, known.Check(["h"], 22, _ed).Status);
    }

    [Fact]
    public void Rsa_entry_is_compared_by_blob_not_by_the_negotiated_algorithm_name()
    {
        // SSH.NET negotiates rsa-sha2-512 but the blob it hands over still says ssh-rsa.
        var known = KnownHosts.Parse(Line("h", _rsa));
        Assert.Equal("ssh-rsa", KnownHosts.BlobType(_rsa));
        Assert.True(known.Check(["h"], 22, _rsa).IsTrusted);
        Assert.Equal(HostKeyStatus.Mismatch, known.Check(["h"], 22, Blob("ssh-rsa", 270)).Status);
    }

    [Fact]
    public void Mismatch_is_loud_and_gives_the_new_fingerprint()
    {
        var known = KnownHosts.Parse(Line("[127.0.0.2]:2222", _ed));
        var verdict = known.Check(["127.0.0.2", "server1"], 2222, _other, "server1");
        Assert.Equal(HostKeyStatus.Mismatch, verdict.Status);
        Assert.Contains("HOST KEY MISMATCH", verdict.Message);
        Assert.Contains("server1", verdict.Message);
        Assert.Contains("SHA256:" + KnownHosts.FingerprintSha256(_other), verdict.Message);
    }

    [Fact]
    public void Unknown_host_message_has_fingerprint_and_the_exact_line_to_add()
    {
        var known = KnownHosts.Parse("");
        var verdict = known.Check(["127.0.0.2", "server1"], 2222, _ed, "server1");
        Assert.Equal(HostKeyStatus.Unknown, verdict.Status);
        var expectedFingerprint = Convert.ToBase64String(SHA256.HashData(_ed)).TrimEnd('=');
        Assert.Equal(expectedFingerprint, verdict.FingerprintSha256);
        Assert.Contains("SHA256:" + expectedFingerprint, verdict.Message);
        var line = $"[127.0.0.2]:2222 ssh-ed25519 {Convert.ToBase64String(_ed)}";
        Assert.Equal(line, verdict.SuggestedLine);
        Assert.Contains(line, verdict.Message);
        // The suggested line, once added, is trusted.
        Assert.True(KnownHosts.Parse(verdict.SuggestedLine).Check(["127.0.0.2"], 2222, _ed).IsTrusted);
    }

    [Fact]
    public void Corrupt_lines_are_skipped()
    {
        var known = KnownHosts.Parse("h ssh-ed25519 not-base64!!\nh ssh-rsa " + Convert.ToBase64String(_ed) + "\nshort line\n" + Line("h", _rsa));
        Assert.Equal(1, known.Count);
        Assert.True(known.Check(["h"], 22, _rsa).IsTrusted);
    }
}
