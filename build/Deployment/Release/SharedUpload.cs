namespace Build.Deployment.Release;

/// <summary>
/// One upload part's stream, produced once for every server whose plan is the same (the same files sent, linked from
/// the same release, in the same parts), through a buffer of at most <see cref="Capacity"/> bytes. The producer waits
/// only while every server reading is behind (the link is what everyone waits for; its <see cref="CompressionGovernor"/>
/// sees that wait). A server more than the buffer behind while another one waits for data is let go
/// (<see cref="Reader.Detached"/>): it finishes the unit it is sending and goes on with a stream of its own, produced
/// for it from that unit's end, so it never holds up the others. A server that comes late joins while the first unit
/// is still buffered; after that it gets a stream of its own.
/// </summary>
public sealed class SharedUpload
{
    private readonly object gate = new();
    private readonly List<UploadUnit> units = [];
    private readonly List<Reader> readers = [];
    private readonly CancellationTokenSource stop = new();
    private TaskCompletionSource changed = NewSignal();
    private int first; // the index of units[0] in the whole stream
    private long buffered;
    private bool complete;
    private bool closed; // no reader joins any more
    private Exception? error;

    /// <param name="produce">Writes the whole stream as units; its token is cancelled once nobody reads any more.</param>
    public SharedUpload(Func<Func<UploadUnit, CancellationToken, ValueTask>, CancellationToken, Task> produce, long capacity)
    {
        Capacity = capacity;
        this.produce = produce;
    }

    private readonly Func<Func<UploadUnit, CancellationToken, ValueTask>, CancellationToken, Task> produce;

    /// <summary>Starts the producer (after the first reader joined, so that nothing is dropped before it reads).</summary>
    public void Start()
    {
        if (Producer is not null) return;
        Producer = Task.Run(async () =>
        {
            try
            {
                await produce(AppendAsync, stop.Token);
                lock (gate) complete = true;
            }
            catch (Exception e)
            {
                lock (gate) error = e;
            }
            finally
            {
                Pulse();
            }
        });
    }

    public long Capacity { get; }

    /// <summary>The producer's run (for tests: it ends once the stream is complete, failed or abandoned).</summary>
    public Task? Producer { get; private set; }

    /// <summary>Bytes buffered now; never above <see cref="Capacity"/> plus one unit.</summary>
    public long Buffered
    {
        get { lock (gate) return buffered; }
    }

    /// <summary>The most bytes ever buffered at once.</summary>
    public long PeakBuffered { get; private set; }

    /// <summary>A reader from the stream's start, or null when its first unit is gone (the caller produces a stream of its own).</summary>
    public Reader? TryJoin()
    {
        lock (gate)
        {
            if (closed || first > 0 || error is not null) return null;
            var reader = new Reader(this);
            readers.Add(reader);
            return reader;
        }
    }

    private async ValueTask AppendAsync(UploadUnit unit, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (gate)
            {
                var attached = readers.Where(r => !r.Detached).ToList();
                if (attached.Count == 0 && closed)
                    throw new OperationCanceledException("nobody reads this stream any more");
                // Units every attached reader has sent are dropped while room is needed (kept otherwise, for late joiners).
                while (units.Count > 0 && buffered + unit.Data.Length > Capacity && attached.All(r => r.Next > first))
                    Drop();
                if (units.Count == 0 || buffered + unit.Data.Length <= Capacity)
                {
                    units.Add(unit);
                    buffered += unit.Data.Length;
                    PeakBuffered = Math.Max(PeakBuffered, buffered);
                    PulseLocked();
                    return;
                }
                // Full because of the slowest readers: if another one is waiting for data, they go their own way.
                if (attached.Any(r => r.Next == first + units.Count))
                {
                    foreach (var slow in attached.Where(r => r.Next == first))
                        slow.Detached = true;
                    PulseLocked();
                    continue;
                }
                wait = changed.Task;
            }
            await wait.WaitAsync(cancellationToken);
        }
    }

    private void Drop()
    {
        buffered -= units[0].Data.Length;
        units.RemoveAt(0);
        first++;
        closed = true;
    }

    private void Leave(Reader reader)
    {
        lock (gate)
        {
            readers.Remove(reader);
            if (readers.Count == 0 && (first > 0 || reader.Next > 0))
            {
                // Everyone who read is gone: a late joiner would need the start again, so nobody joins any more.
                closed = true;
                if (!complete) stop.Cancel();
            }
            if (closed && readers.Count == 0)
            {
                // Nobody reads it and nobody can join: the buffer goes now, not when the deploy ends.
                units.Clear();
                buffered = 0;
            }
            PulseLocked();
        }
    }

    private void Pulse()
    {
        lock (gate) PulseLocked();
    }

    private void PulseLocked()
    {
        var previous = changed;
        changed = NewSignal();
        previous.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>One server's place in the shared stream.</summary>
    public sealed class Reader(SharedUpload upload) : IDisposable
    {
        /// <summary>The index of the next unit to send.</summary>
        internal int Next { get; private set; }

        /// <summary>Let go for being more than the buffer behind: the rest comes from a stream of its own.</summary>
        public bool Detached { get; internal set; }

        /// <summary>The tar offset the units sent so far end at (where a stream of its own starts).</summary>
        public long TarSent { get; private set; }

        /// <summary>
        /// The next unit, or null at the stream's end or once detached (see <see cref="Detached"/>). Waits for the
        /// producer, never for another reader; throws the producer's failure.
        /// </summary>
        public async Task<UploadUnit?> NextAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                Task wait;
                lock (upload.gate)
                {
                    if (Detached) return null;
                    if (Next - upload.first < upload.units.Count)
                        return upload.units[Next - upload.first];
                    // Each reader its own exception: the site changed under the deploy stays that failure for every server.
                    if (upload.error is ReleaseException r) throw new ReleaseException(r.Message, r.Kind, r);
                    if (upload.error is { } e) throw new IOException($"Producing the upload stream failed: {e.Message}", e);
                    if (upload.complete) return null;
                    wait = upload.changed.Task;
                }
                await wait.WaitAsync(cancellationToken);
            }
        }

        /// <summary>The unit <see cref="NextAsync"/> returned was sent: it may be dropped once every reader has.</summary>
        public void Sent(UploadUnit unit)
        {
            lock (upload.gate)
            {
                Next++;
                TarSent = unit.TarEnd;
                upload.PulseLocked();
            }
        }

        public void Dispose() => upload.Leave(this);
    }
}

/// <summary>
/// The shared upload streams of one deploy: one <see cref="SharedUpload"/> per (plan, part), for as long as a server
/// can still join it from the start.
/// </summary>
public sealed class SharedUploads(long capacity = SharedUploads.DefaultCapacity)
{
    /// <summary>Per part: four units of a blog's HTML at level 9, or about one at level 1; bounded whatever the number of servers.</summary>
    public const long DefaultCapacity = 4L << 20;

    private readonly Dictionary<string, SharedUpload> streams = new(StringComparer.Ordinal);

    public long Capacity => capacity;

    /// <summary>
    /// A reader of the stream for <paramref name="key"/>, started by <paramref name="produce"/> when there is none that can
    /// still be joined from the start.
    /// </summary>
    public (SharedUpload Stream, SharedUpload.Reader Reader) Join(string key, Func<Func<UploadUnit, CancellationToken, ValueTask>, CancellationToken, Task> produce)
    {
        lock (streams)
        {
            if (streams.TryGetValue(key, out var open) && open.TryJoin() is { } joined)
                return (open, joined);
            var created = new SharedUpload(produce, capacity);
            streams[key] = created;
            var reader = created.TryJoin()!;
            created.Start();
            return (created, reader);
        }
    }
}
