using System.Runtime.Versioning;
using Build.Deployment.Release;

namespace Build.Tests.Deployment.Release;

[UnsupportedOSPlatform("windows")]
public sealed class SharedUploadTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static async Task<(ReleaseCandidate Candidate, ReleaseStream Stream)> SiteAsync(ReleaseTestKit kit, int files, int bytes)
    {
        // Random bytes: deflate cannot shrink them, so each unit is about its size in tar.
        kit.Generate(files, bytes);
        var candidate = await kit.CandidateAsync();
        var plan = DeltaPlan.Compute(candidate.Manifest, null, null);
        return (candidate, new ReleaseStream(candidate, null, new UploadPart(0, plan.Link, plan.Send), StreamCompression.Gzip));
    }

    [Fact]
    public async Task Servers_with_the_same_plan_get_the_same_bytes_produced_once()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        var (_, stream) = await SiteAsync(kit, 8, 300_000);
        var shared = new SharedUploads();
        var produced = 0;
        var counting = new CountingUploads(shared, () => Interlocked.Increment(ref produced));

        var outputs = Enumerable.Range(0, 3).Select(_ => new MemoryStream()).ToList();
        var stats = await Task.WhenAll(outputs.Select(o => counting.SendAsync(stream, "plan/0", o))).WaitAsync(Bound);

        Assert.Equal(1, produced);
        Assert.Single(stats.Select(s => s.Sha256).Distinct());
        Assert.All(outputs, o => Assert.Equal(outputs[0].ToArray(), o.ToArray()));
        using var alone = new MemoryStream();
        await stream.WriteAsync(alone, CancellationToken.None);
        Assert.Equal(CompressionGovernorTests.ReadTar(alone.ToArray()), CompressionGovernorTests.ReadTar(outputs[0].ToArray()));
    }

    [Fact]
    public async Task A_server_more_than_the_buffer_behind_gets_its_own_stream_and_never_stalls_the_others()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        var (_, stream) = await SiteAsync(kit, 5, 1_000_000);
        var shared = new SharedUploads(capacity: 256 * 1024);
        var stuck = new GatedStream();
        using var fast = new MemoryStream();

        var slow = stream.SendSharedAsync(shared, "plan/0", stuck, CancellationToken.None);
        await stuck.Blocked.WaitAsync(Bound); // it holds the first unit and sends no more
        var fastStats = await stream.SendSharedAsync(shared, "plan/0", fast, CancellationToken.None).WaitAsync(Bound);

        Assert.False(slow.IsCompleted);
        stuck.Open();
        var slowStats = await slow.WaitAsync(Bound);

        var expected = CompressionGovernorTests.ReadTar(fast.ToArray());
        Assert.Equal(5, expected.Count(f => f.Key.Contains("/assets/", StringComparison.Ordinal) || f.Key.EndsWith(".html", StringComparison.Ordinal)));
        Assert.Equal(expected, CompressionGovernorTests.ReadTar(stuck.Written.ToArray()));
        Assert.True(slowStats.OwnStream);
        Assert.False(fastStats.OwnStream);
        Assert.Equal(stuck.Written.Length, slowStats.Bytes);
        Assert.Equal(fast.Length, fastStats.Bytes);
    }

    [Fact]
    public async Task The_buffer_stays_bounded_while_every_server_is_behind_and_the_producer_waits()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        var (_, stream) = await SiteAsync(kit, 6, 1_000_000);
        var capacity = 3 << 19; // 1.5 MiB: one unit of random bytes fits, two do not
        var shared = new SharedUploads(capacity);
        var gates = new[] { new GatedStream(), new GatedStream() };
        var sends = gates.Select(g => stream.SendSharedAsync(shared, "plan/0", g, CancellationToken.None)).ToList();
        await Task.WhenAll(gates.Select(g => g.Blocked)).WaitAsync(Bound);

        var upload = shared.Join("plan/0", (_, _) => Task.CompletedTask);
        upload.Reader.Dispose();

        // Nobody waits for data, so nobody is let go: the producer waits with at most one unit buffered beyond the capacity.
        Assert.True(upload.Stream.PeakBuffered <= capacity + UploadUnits.TarBytesPerUnit + 64 * 1024, $"{upload.Stream.PeakBuffered}");
        Assert.False(upload.Stream.Producer!.IsCompleted);
        foreach (var gate in gates) gate.Open();
        await Task.WhenAll(sends).WaitAsync(Bound);
        Assert.Equal(CompressionGovernorTests.ReadTar(gates[0].Written.ToArray()), CompressionGovernorTests.ReadTar(gates[1].Written.ToArray()));
        Assert.True(upload.Stream.PeakBuffered <= capacity + UploadUnits.TarBytesPerUnit + 64 * 1024, $"{upload.Stream.PeakBuffered}");
    }

    [Fact]
    public async Task A_server_that_comes_after_the_first_unit_was_dropped_gets_a_stream_of_its_own()
    {
        using var kit = new ReleaseTestKit(ShellFlavor.Gnu);
        var (_, stream) = await SiteAsync(kit, 4, 1_000_000);
        var shared = new SharedUploads(capacity: 64 * 1024);
        Task Produce(Func<UploadUnit, CancellationToken, ValueTask> emit, CancellationToken ct) => stream.WriteUnitsAsync(emit, new CompressionGovernor(), 0, ct);

        var (early, first) = shared.Join("plan/0", Produce);
        var firstBytes = await ReadAllAsync(first);
        var (late, second) = shared.Join("plan/0", Produce);
        var secondBytes = await ReadAllAsync(second);

        Assert.NotSame(early, late);
        Assert.Null(early.TryJoin());
        Assert.Equal(CompressionGovernorTests.ReadTar(firstBytes), CompressionGovernorTests.ReadTar(secondBytes));
    }

    private static async Task<byte[]> ReadAllAsync(SharedUpload.Reader reader)
    {
        using var bytes = new MemoryStream();
        using (reader)
        {
            while (await reader.NextAsync(CancellationToken.None).WaitAsync(Bound) is { } unit)
            {
                bytes.Write(unit.Data);
                reader.Sent(unit);
            }
        }
        return bytes.ToArray();
    }

    /// <summary>A destination whose writes after the first wait until opened: a server whose link stalls.</summary>
    private sealed class GatedStream : Stream
    {
        private readonly TaskCompletionSource open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource blocked = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public MemoryStream Written { get; } = new();
        public Task Blocked => blocked.Task;
        public void Open() => open.TrySetResult();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Written.Write(buffer.Span);
            blocked.TrySetResult();
            await open.Task.WaitAsync(cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Written.Length;
        public override long Position { get => Written.Length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>Counts how often a stream is produced for the shared key.</summary>
    private sealed class CountingUploads(SharedUploads shared, Action produced)
    {
        public async Task<StreamStats> SendAsync(ReleaseStream stream, string key, Stream destination)
        {
            using var hashing = new ReleaseStream.HashingStream(destination);
            var (_, reader) = shared.Join(key, (emit, ct) =>
            {
                produced();
                return stream.WriteUnitsAsync(emit, new CompressionGovernor(), 0, ct);
            });
            using (reader)
            {
                while (await reader.NextAsync(CancellationToken.None) is { } unit)
                {
                    await hashing.WriteAsync(unit.Data);
                    reader.Sent(unit);
                }
            }
            return new StreamStats(hashing.Length, hashing.Hash());
        }
    }
}
