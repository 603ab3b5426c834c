using System.Text.Json;
using Build.Deployment;
using Build.Settings;
using Build.Tailnet;

namespace Build.Tests.Tailnet;

public sealed class StatusAndSelectionTests
{
    private static TailnetStatus Running(string peers = SimTailnet.DefaultPeers) => TailnetStatus.Parse($$"""
        {
          "Version": "1.76.1-t", "TUN": false, "BackendState": "Running", "HaveNodeKey": true, "AuthURL": "",
          "TailscaleIPs": ["100.100.1.1", "fd7a:115c:a1e0::1"],
          "Self": { "ID": "nSelf", "HostName": "ci-x", "DNSName": "ci-x.t.ts.net.", "TailscaleIPs": ["100.100.1.1"], "Tags": ["tag:ci"], "Online": true },
          "Health": [], "MagicDNSSuffix": "t.ts.net",
          "CurrentTailnet": { "Name": "example.com", "MagicDNSSuffix": "t.ts.net", "MagicDNSEnabled": true },
          "CertDomains": null, "Peer": {{peers}}, "User": { "1": { "ID": 1 } }, "ClientVersion": null, "SomethingNew": { "x": [1] }
        }
        """);

    [Fact]
    public void Parses_the_status_ignoring_unknown_fields()
    {
        var status = Running();
        Assert.True(status.IsRunning);
        Assert.Equal("example.com", status.CurrentTailnet!.Name);
        Assert.Equal("nSelf", status.Self!.ID);
        Assert.Equal(5, status.Peers.Count());
        var server1 = status.Peers.Single(p => p.ID == "n1001CNTRL");
        Assert.Equal("server1", server1.ServerName);
        Assert.Equal("100.101.0.1", server1.IPv4);
        Assert.Equal(["tag:server1"], server1.Tags);
        Assert.True(server1.Online);
        var laptop = status.Peers.Single(p => p.HostName == "alice-laptop");
        Assert.Null(laptop.Tags);
        Assert.Null(status.Peers.Single(p => p.HostName == "printer").Online);
    }

    [Theory]
    [InlineData("""{"BackendState":"NeedsLogin","Peer":null,"Self":null,"TailscaleIPs":null}""")]
    [InlineData("""{"BackendState":"NeedsLogin"}""")]
    public void Peer_may_be_null_or_absent(string json)
    {
        var status = TailnetStatus.Parse(json);
        Assert.False(status.IsRunning);
        Assert.Empty(status.Peers);
    }

    [Theory]
    [InlineData("")]
    [InlineData("failed to connect to local tailscaled")]
    [InlineData("""{"Version":"1"}""")]
    [InlineData("null")]
    public void Anything_but_a_status_is_rejected(string text)
    {
        Assert.False(TailnetStatus.TryParse(text, out _));
        Assert.ThrowsAny<JsonException>(() => TailnetStatus.Parse(text));
    }

    [Fact]
    public void Address_is_the_first_IPv4_even_when_IPv6_comes_first()
    {
        var peer = new PeerStatus { TailscaleIPs = ["fd7a:115c:a1e0::9", "100.64.0.9"] };
        Assert.Equal("100.64.0.9", peer.IPv4);
    }

    [Fact]
    public void Keeps_peers_with_a_deploy_tag_named_by_their_DNS_label()
    {
        var targets = ServerSelection.FromStatus(Running(), ["tag:server1", "server2"], []);
        Assert.Equal(["server1", "server2", "server3"], targets.Select(t => t.Name));
        // Two nodes suggest the same HostName; the DNS label keeps them apart.
        Assert.All(targets.Take(2), t => Assert.Equal("web", t.HostName));
        Assert.Equal("server2.sim-tailnet.ts.net.", targets[1].DnsName);
        Assert.Equal(["tag:server2", "tag:web"], targets[1].Tags);
        Assert.False(targets[2].Online);
    }

    [Fact]
    public void No_tagged_peer_lists_the_tags_that_exist()
    {
        var error = Assert.Throws<SettingsException>(() => ServerSelection.FromStatus(Running(), ["tag:db"], []));
        Assert.Equal(ExitCodes.BadSettings, error.ExitCode);
        Assert.Contains("tag:db", error.Message);
        Assert.Contains("tags that exist on visible peers: tag:printer, tag:server1, tag:server2, tag:web", error.Message);
    }

    [Fact]
    public void No_peers_at_all_says_so()
    {
        var error = Assert.Throws<SettingsException>(() => ServerSelection.FromStatus(Running("null"), ["tag:server1"], []));
        Assert.Contains("no peer of the 0 visible carries any tag", error.Message);
    }

    [Theory]
    [InlineData("server1", "server1")]
    [InlineData("SERVER1", "server1")]
    [InlineData("server2.sim-tailnet.ts.net", "server2")]
    [InlineData("server2.sim-tailnet.ts.net.", "server2")]
    [InlineData("Server2.Sim-Tailnet.ts.net.", "server2")]
    [InlineData("tag:server1", "server1,server3")]
    [InlineData("server1,tag:web", "server1,server2")]
    [InlineData("web", "server1,server2")]
    [InlineData("server1.sim-tailnet.ts.net.,server3", "server1,server3")]
    [InlineData("old-box", "server3")]
    [InlineData("TAG:WEB", "server2")]
    public void Server_filter_matches_names_host_names_DNS_names_and_tags(string filter, string expected)
    {
        var targets = ServerSelection.FromStatus(Running(), ["tag:server1", "tag:server2"], filter.Split(','));
        Assert.Equal(expected.Split(','), targets.Select(t => t.Name));
    }

    [Fact]
    public void A_server_name_wins_over_a_tag_of_the_same_name_and_a_bare_tag_matches_otherwise()
    {
        // "server1" names a server, so it is that one server (not every tag:server1 peer).
        var targets = ServerSelection.FromStatus(Running(), ["tag:server1", "tag:server2"], ["server1"]);
        Assert.Equal(["server1"], targets.Select(t => t.Name));
        Assert.Equal(["server1", "server3"], ServerSelection.Filter(
            [new DeployTarget("server1", "a") { Tags = ["tag:blue"] }, new DeployTarget("x", "b"), new DeployTarget("server3", "c") { Tags = ["tag:blue"] }],
            ["blue"]).Select(t => t.Name));
    }

    [Fact]
    public void A_server_that_matches_nothing_lists_the_servers_that_exist()
    {
        var error = Assert.Throws<SettingsException>(() => ServerSelection.FromStatus(Running(), ["tag:server1", "tag:server2"], ["server1", "server9"]));
        Assert.Contains("\"server9\" matches no server", error.Message);
        Assert.Contains("Servers that exist: server1, server2, server3", error.Message);
    }

    [Fact]
    public void Hosts_become_targets_and_the_filter_applies()
    {
        HostEntry[] hosts = [new("alpha", "10.0.0.1", 2222), new("beta", "10.0.0.2", null)];
        Assert.Equal(2, ServerSelection.FromHosts(hosts, []).Count);
        var alpha = Assert.Single(ServerSelection.FromHosts(hosts, ["ALPHA"]));
        Assert.Equal(2222, alpha.Port);
        Assert.Equal("beta", Assert.Single(ServerSelection.FromHosts(hosts, ["10.0.0.2"])).Name);
        var error = Assert.Throws<SettingsException>(() => ServerSelection.FromHosts(hosts, ["gamma"]));
        Assert.Contains("alpha, beta", error.Message);
    }

    [Fact]
    public void The_table_lists_server_host_name_address_tags_online()
    {
        var table = ServerTable.Format(ServerSelection.FromStatus(Running(), ["tag:server1", "tag:server2"], [])).Split('\n');
        Assert.Equal(4, table.Length);
        Assert.Matches(@"^server\s+host name\s+address\s+tags\s+online$", table[0]);
        Assert.Matches(@"^server1\s+web\s+100\.101\.0\.1\s+tag:server1\s+yes$", table[1]);
        Assert.Matches(@"^server3\s+old-box\s+100\.101\.0\.3\s+tag:server1\s+no \(unavailable\)$", table[3]);
    }

    [Fact]
    public void Hosts_entries_are_listed_as_not_checked_since_nothing_looks_at_them_before_the_deploy()
    {
        var hosts = new[] { new HostEntry("web", "192.0.2.10", 2222) };

        var table = ServerTable.Format(ServerSelection.FromHosts(hosts, []), onlineChecked: false).Split('\n');

        Assert.Matches(@"^web\s+-\s+192\.0\.2\.10:2222\s+-\s+not checked$", table[1]);
    }

    [Fact]
    public async Task The_record_holds_host_name_node_id_tailnet_and_time()
    {
        var path = Path.Join(Path.GetTempPath(), $"tailnet-record-{Guid.NewGuid():N}", "tailnet.json");
        try
        {
            var at = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
            await new TailnetRecord("gitlab-runner-1", null, null, at).WriteAsync(path, CancellationToken.None);
            var first = JsonDocument.Parse(File.ReadAllText(path)).RootElement;
            Assert.Equal("gitlab-runner-1", first.GetProperty("hostname").GetString());
            Assert.Equal(JsonValueKind.Null, first.GetProperty("node_id").ValueKind);
            await new TailnetRecord("gitlab-runner-1", "n123", "example.com", at).WriteAsync(path, CancellationToken.None);
            var second = JsonDocument.Parse(File.ReadAllText(path)).RootElement;
            Assert.Equal("n123", second.GetProperty("node_id").GetString());
            Assert.Equal("example.com", second.GetProperty("tailnet").GetString());
            Assert.Equal(at, second.GetProperty("joined_at").GetDateTimeOffset());
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
