using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using Build.Deployment;
using Build.Deployment.Progress;
using Build.Deployment.Release;
using Build.Deployment.Reports;
using Build.Settings;
using Xunit.Abstractions;

namespace Build.Tests.Deployment.Release;

/// <summary>
/// A server cannot break the client: whatever it answers (garbage, a cut reply, escape sequences, absurd numbers,
/// a corrupt manifest or lock owner), every server ends as a clean per-server outcome and nothing escapes.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class ServerGarbageTests(ITestOutputHelper output)
{
    private const string Id = "20260101T000000Z-0123abcd";
    private const string Older = "20251231T000000Z-89abcdef";

    [Fact]
    public void Server_text_loses_control_characters_and_what_xml_cannot_hold()
    {
        // Without its ESC an escape sequence is inert text.
        Assert.Equal("[31mred[0m text bell \nnext", ServerText.Clean("\u001b[31mred\u001b[0m text\t\u0007bell\r\nnext"));
        Assert.Equal("a\uFFFDb\uFFFD", ServerText.Clean("a\uD800b\uFFFF"));
        Assert.Equal("😀 ok", ServerText.Clean("😀 ok"));
        Assert.Equal("abc…", ServerText.Clean("abcdef", 3));
        Assert.Equal("plain", ServerText.Clean("plain"));
    }

    [Fact]
    public void An_unparseable_lock_owner_is_an_unknown_owner_and_an_absurd_time_is_no_time()
    {
        Assert.Equal("an unknown owner", LockOwner.Parse(["host=x", "time=1"])!.ToString());
        Assert.Equal("an unknown owner", LockOwner.Parse(["run=bad id;rm -rf /"])!.ToString());
        var absurd = LockOwner.Parse(["run=ci-1-abc", "time=99999999999999999", "pid=-4", "host=\u001b]0;pwned\u0007h"])!;
        Assert.Null(absurd.Since);
        Assert.Null(absurd.Pid);
        Assert.Equal("]0;pwnedh", absurd.Host);
        Assert.Null(absurd.Age(DateTimeOffset.UtcNow));
        Assert.Null(LockOwner.Parse([]));
    }

    [Theory]
    [InlineData("duplicate")]
    [InlineData("mode")]
    [InlineData("null-files")]
    [InlineData("truncated")]
    [InlineData("other-release")]
    public void A_corrupt_manifest_is_no_manifest_with_a_reason(string damage)
    {
        var good = new Manifest([new ManifestEntry("a.html", 1, new string('a', 64), 420), new ManifestEntry("b.html", 2, new string('b', 64), 420)])
            .ToJson(new ReleaseInfo(Id, null, DateTimeOffset.UnixEpoch));
        var json = damage switch
        {
            "duplicate" => good.Replace("\"b.html\"", "\"a.html\"", StringComparison.Ordinal),
            "mode" => good.Replace("\"0644\"", "\"9x\"", StringComparison.Ordinal),
            "null-files" => good[..good.IndexOf("\"files\"", StringComparison.Ordinal)] + "\"files\":null}",
            "truncated" => good[..(good.Length / 2)],
            _ => good.Replace(Id, Older, StringComparison.Ordinal),
        };
        var state = RemoteState.Parse($"@lock taken\n@current-link releases/{Id}\n@current {Id}\n@release {Id}\n@manifest {json}\n@end\n");
        Assert.Null(state.CurrentManifest);
        Assert.Contains(Id, state.ManifestProblem);
        // With no usable manifest, everything is sent.
        Assert.Null(DeltaPlan.Compute(state.CurrentManifest ?? new Manifest([]), null, null).BaseReleaseId);
    }

    /// <summary>Answers every command with a random, truncated or garbled version of a plausible reply, or fails it.</summary>
    private sealed class GarbageShell(Random random, string manifestJson) : IRemoteShell
    {
        private static readonly string[] Junk =
        [
            "\u001b[2J\u001b[31m", "\u0000", "\uD800", "\uFFFF", "\r", "\t", "@fail \u001b]0;title\u0007", "@owner time=99999999999999999999",
            "@owner run=", "@owner run=\u001b", "@cleaned 99999999999999999999", "@release ../../etc", "@current ../x", "@meta {\"release\":1}",
            "@manifest {\"files\":[{\"path\":\"a\",\"size\":-1}]}", "@manifest [", "@manifest-compact H4sIAAAAAAAA", "@manifest-compact !\u001b", "@stream zz", "@staged " + Id, "@pruned " + Older, "@end", "@lock taken",
            "@broke \u001b", "@tar \u0007", "@locked", "@switched -", "@sealed", "@edited ./\u001b[2Ja.html", "@edited ", "@edited ./??", "@meta {\"release\":\"" + Id + "\",\"created\":\"99999-01-01\"}",
        ];

        public int Calls;

        public async Task<RemoteResult> RunAsync(string script, IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task>? writeInput, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            int roll, status, cut;
            lock (random)
            {
                roll = random.Next(100);
                status = random.Next(10) switch { < 5 => 0, 5 => random.Next(64, 70), 6 => -1, 7 => 255, _ => random.Next(1, 130) };
                cut = random.Next(1000);
            }
            if (writeInput is not null && roll % 3 != 0)
            {
                // Feed the client's stream to nowhere, as a server reading stdin would (the commands started ahead wait for it).
                try { await writeInput(Stream.Null, cancellationToken); }
                catch (IOException) { }
            }
            if (roll < 8) throw new IOException("connection reset \u001b[1m(simulated)");
            if (roll < 10) throw new ChannelRefusedException("refused (simulated)");
            if (roll < 11) throw new Renci.SshNet.Common.SshConnectionException("\u001b[31mgone");
            var reply = Plausible(script);
            string garbled;
            lock (random) garbled = Garble(reply, random, cut);
            return new RemoteResult(status, garbled, Garble("err\u001b[0m", random, cut));
        }

        private string Plausible(string script)
        {
            if (script == RemoteScripts.Prepare)
                return $"@lock taken\n@cleaned 1\n@current-link releases/{Older}\n@current {Older}\n@release {Older}\n@release .x.partial\n@meta {{\"release\":\"{Older}\",\"commit\":\"c\",\"created\":\"2026-01-01T00:00:00Z\",\"hash\":\"h\",\"files\":1,\"bytes\":1}}\n@bad {Older}\n@owner run=ci-1-x\n@owner time=1\n@manifest {manifestJson}\n@sealed\n@edited ./a.html\n@cap hash\n@cap gzip\n@end\n";
            if (script == RemoteScripts.Upload) return $"@stream {new string('0', 64)}\n@received 1 1\n@staged {Id}\n@switched {Id}\n@unlocked\n";
            if (script == RemoteScripts.Switch) return $"@switched {Id}\n@pruned {Older}\n@unlocked\n";
            if (script == RemoteScripts.Unlock) return "@locked\n@owner run=ci-1-x\n@owner time=1\n@unlocked\n";
            return "@unlocked\n";
        }

        private static string Garble(string reply, Random random, int cut)
        {
            var text = new StringBuilder(cut < 300 ? reply[..Math.Min(reply.Length, random.Next(reply.Length + 1))] : reply);
            var edits = random.Next(6);
            for (var i = 0; i < edits; i++)
            {
                var at = random.Next(text.Length + 1);
                switch (random.Next(4))
                {
                    case 0: text.Insert(at, Junk[random.Next(Junk.Length)]); break;
                    case 1: text.Insert(at, "\n" + Junk[random.Next(Junk.Length)] + "\n"); break;
                    case 2 when text.Length > 0: text[Math.Min(at, text.Length - 1)] = (char)random.Next(0, 0x10000); break;
                    default: if (at < text.Length) text.Remove(at, Math.Min(text.Length - at, random.Next(40))); break;
                }
            }
            return text.ToString();
        }
    }

    [Fact]
    public async Task Hundreds_of_garbled_conversations_each_end_in_a_clean_outcome_and_nothing_escapes()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        kit.Generate(files: 12, bytesPerFile: 300);
        var candidate = await kit.CandidateAsync();
        var older = new Manifest(candidate.Manifest.Entries.Skip(1)).ToJson(new ReleaseInfo(Older, null, DateTimeOffset.UnixEpoch));
        var options = new ReleaseOptions { LockWait = TimeSpan.Zero, LockPoll = TimeSpan.FromMilliseconds(1), MinFilesPerStream = 4 };
        var targets = new[] { new DeployTarget("s1", "192.0.2.1"), new DeployTarget("s2", "192.0.2.2"), new DeployTarget("s3", "192.0.2.3") };
        var operations = new[] { "deploy", "together", "plan", "rollback", "unlock" };
        const int seed = 12;
        var clock = Stopwatch.StartNew();
        var cases = 0;
        var outcomes = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();

        async Task RunCase(int number)
        {
            var random = new Random(seed + number);
            var operation = operations[number % operations.Length];
            ConnectServer connect = (target, ct) =>
            {
                lock (random)
                    if (random.Next(20) == 0) throw new IOException("Connection refused \u001b[5m");
                return Task.FromResult(new ServerLink(new GarbageShell(random, older), new Nothing()));
            };
            var fanOut = new FanOut(targets, connect, new ReleaseRun("run-fuzz", "h", 1, "w", null, null), options,
                new FanOutOptions
                {
                    RemoteRoot = RemoteRoot.Of("/srv/{server}"), Attempts = 2, RetryDelay = TimeSpan.FromMilliseconds(1), AttemptTimeout = TimeSpan.FromSeconds(5),
                    Switch = operation == "deploy" ? SwitchMode.Independent : SwitchMode.Together,
                },
                new Silent(), TimeProvider.System);
            var report = new DeployReport { Operation = operation, StartedAt = DateTimeOffset.UnixEpoch, ReleaseId = candidate.ReleaseId };
            var work = operation switch
            {
                "plan" => fanOut.PlanAsync(Task.FromResult(candidate), report, CancellationToken.None),
                "rollback" => fanOut.RollbackAsync(number % 2 == 0 ? null : ReleaseId.Parse(Older), report, CancellationToken.None),
                "unlock" => fanOut.ForEachAsync(report, async (t, session, ct) =>
                {
                    var (_, owner, _) = await session.UnlockAsync(force: true, ct);
                    AssertClean(owner?.ToString());
                    return Outcome.Unchanged;
                }, CancellationToken.None),
                _ => fanOut.DeployAsync(Task.FromResult(candidate), report, CancellationToken.None),
            };
            try
            {
                await work.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception e)
            {
                Assert.Fail($"case {number} ({operation}, seed {seed + number}) let {e.GetType().Name} escape: {e}");
            }
            Assert.Equal(3, report.Servers.Count);
            foreach (var server in report.Servers)
            {
                AssertClean(server.Error);
                outcomes.AddOrUpdate($"{operation}:{server.Outcome.Text()}", 1, (_, n) => n + 1);
            }
            // Both reports and the table are written whatever the servers said.
            _ = JsonSerializer.Serialize(report);
            _ = report.ToJUnit().ToString();
            AssertClean(DeploySummary.Table(report));
        }

        // Bounded in time as well as in number: a loaded machine runs fewer cases rather than a longer test, but never
        // fewer than a hundred (every operation twenty times). Eight at a time, so that one case's retry delay overlaps the others' work.
        while (cases < 4000 && (cases < MinCases || clock.Elapsed < TimeSpan.FromSeconds(6)))
        {
            await Task.WhenAll(Enumerable.Range(cases, 8).Select(RunCase));
            cases += 8;
        }
        output.WriteLine($"{cases} cases in {clock.Elapsed.TotalSeconds:0.0} s: " + string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key} {o.Value}")));
        // Measured under a load average of 47 on 2 cores: about 250 ms per case, so the minimum decides there;
        // an idle machine runs many more within the time bound.
        Assert.True(cases >= MinCases, $"only {cases} cases ran");
        Assert.All(operations, o => Assert.Contains(outcomes.Keys, k => k.StartsWith(o + ":", StringComparison.Ordinal)));
        Assert.Contains(outcomes.Keys, k => k.EndsWith(":failed", StringComparison.Ordinal));
    }

    private const int MinCases = 104;

    private static void AssertClean(string? text)
    {
        if (text is null) return;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            Assert.False((char.IsControl(c) && c != '\n') || c is '\uFFFE' or '\uFFFF' || char.IsSurrogate(c), $"U+{(int)c:X4} at {i} in: {text}");
        }
    }

    private sealed class Nothing : IDisposable
    {
        public void Dispose() { }
    }

    private sealed class Silent : IDeployProgress
    {
        public void Phase(string server, DeployPhase phase, string? detail = null) => AssertClean(detail);

        public void Upload(string server, long sent, long total) { }
    }
}
