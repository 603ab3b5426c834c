using System.Text;

namespace Build.Deployment;

/// <summary>
/// Text that came from a server (script output, errors, lock owners, listings) before it reaches the log, the JSON
/// report or the JUnit XML: a server must not be able to drive the terminal (escape sequences), break the XML
/// (characters it cannot hold) or flood the output.
/// </summary>
public static class ServerText
{
    /// <summary>The bound on what is read of one command's stdout: a stored manifest of a very large site fits.</summary>
    public const int MaxOutputBytes = 64 * 1024 * 1024 + 64 * 1024;

    /// <summary>The bound on what is read of one command's stderr and of any other reply.</summary>
    public const int MaxErrorBytes = 64 * 1024;

    /// <summary>
    /// Drops control characters except the line feed (tab and carriage return become spaces), replaces unpaired
    /// surrogates and the XML-forbidden U+FFFE/U+FFFF with U+FFFD, and cuts the text at <paramref name="maxLength"/>.
    /// </summary>
    public static string Clean(string? text, int maxLength = int.MaxValue)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        if (IsClean(text) && text.Length <= maxLength) return text;
        var result = new StringBuilder(Math.Min(text.Length, maxLength));
        for (var i = 0; i < text.Length && result.Length < maxLength; i++)
        {
            var c = text[i];
            if (c == '\n') result.Append(c);
            else if (c is '\t' or '\r') result.Append(' ');
            else if (char.IsControl(c)) continue;
            else if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { result.Append(c).Append(text[++i]); }
            else if (char.IsSurrogate(c) || c is '\uFFFE' or '\uFFFF') result.Append('\uFFFD');
            else result.Append(c);
        }
        if (result.Length >= maxLength && text.Length > maxLength) result.Append('…');
        return result.ToString();
    }

    private static bool IsClean(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\n') continue;
            if (char.IsControl(c) || c is '\uFFFE' or '\uFFFF') return false;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (char.IsSurrogate(c)) return false;
        }
        return true;
    }

    /// <summary>
    /// Reads a stream to its end keeping at most <paramref name="limit"/> bytes (the rest is read and dropped, so the
    /// sender is never blocked), decoded as UTF-8 with invalid bytes replaced. Blocking: SSH.NET's pipe reads block,
    /// so callers give it a thread of its own.
    /// </summary>
    public static string ReadBounded(Stream stream, int limit)
    {
        using var kept = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            var room = (int)Math.Min(n, limit - kept.Length);
            if (room > 0) kept.Write(buffer, 0, room);
        }
        return Encoding.UTF8.GetString(kept.GetBuffer(), 0, (int)kept.Length);
    }
}

/// <summary>
/// Every reply of a shell, cleaned (<see cref="ServerText.Clean"/>) and bounded before the release protocol parses it:
/// what a server sends can fail a step, never reach the terminal raw.
/// </summary>
public sealed class CleaningShell(IRemoteShell inner) : IRemoteShell
{
    public async Task<RemoteResult> RunAsync(string script, IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task>? writeInput, CancellationToken cancellationToken)
    {
        var result = await inner.RunAsync(script, arguments, writeInput, cancellationToken).ConfigureAwait(false);
        return new RemoteResult(result.ExitStatus,
            ServerText.Clean(result.Output, ServerText.MaxOutputBytes),
            ServerText.Clean(result.Error, ServerText.MaxErrorBytes));
    }
}
