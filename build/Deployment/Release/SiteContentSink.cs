namespace Build.Deployment.Release;

/// <summary>
/// Sees whole files as <see cref="Manifest.CreateAsync(SiteScan, ISiteContentSink?, CancellationToken)"/> reads them to
/// hash them, so that whoever else needs their bytes (the link checker's pages) reads nothing itself.
/// </summary>
public interface ISiteContentSink
{
    /// <summary>Whether this file's content is wanted: then it is read whole into memory and handed to a worker.</summary>
    bool Wants(string path);

    /// <summary>A worker for one hashing thread: it is never called from two threads at once.</summary>
    ISiteContentWorker CreateWorker();
}

/// <summary>One thread's share of an <see cref="ISiteContentSink"/>.</summary>
public interface ISiteContentWorker
{
    /// <summary>A wanted file's content: exactly the bytes that were hashed, valid only during the call.</summary>
    void Accept(string path, ReadOnlySpan<byte> content);

    /// <summary>Called once when the thread has no file left (not after a failure).</summary>
    void Complete();
}
