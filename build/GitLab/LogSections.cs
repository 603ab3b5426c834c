using System.Text;

namespace Build.GitLab;

/// <summary>
/// GitLab's collapsible log sections. One section is open at a time (one per task); starting a
/// new one ends the open one. Outside GitLab CI (<c>GITLAB_CI</c> not <c>true</c>) it writes nothing.
/// </summary>
/// <remarks>
/// The markers are exactly GitLab's:
/// <c>\e[0Ksection_start:&lt;unix time&gt;:&lt;name&gt;[collapsed=true]\r\e[0K&lt;header&gt;</c> and
/// <c>\e[0Ksection_end:&lt;unix time&gt;:&lt;name&gt;\r\e[0K</c>, each on a line of its own.
/// </remarks>
public sealed class LogSections
{
    private const string Erase = "\u001b[0K";
    private readonly Func<TextWriter> _writer;
    private readonly TimeProvider _clock;
    private readonly Lock _gate = new();
    private string? _open;

    /// <param name="writer">Where markers go: the same stream as the tasks' output (read at each write, so a redirected console is honoured).</param>
    public LogSections(Func<TextWriter> writer, TimeProvider clock, bool enabled)
    {
        _writer = writer;
        _clock = clock;
        Enabled = enabled;
    }

    /// <summary>Sections on the console when running under GitLab CI.</summary>
    public static LogSections ForEnvironment(Func<string, string?> environment) =>
        new(() => Console.Out, TimeProvider.System, environment("GITLAB_CI") == "true");

    public bool Enabled { get; }

    /// <summary>The name of the open section, if any.</summary>
    public string? Open
    {
        get { lock (_gate) return _open; }
    }

    /// <summary>Opens a section (ending the open one first). <paramref name="name"/> is made a valid section name.</summary>
    public void Start(string name, string header, bool collapsed = true)
    {
        if (!Enabled) return;
        lock (_gate)
        {
            EndOpen();
            _open = ValidName(name);
            var options = collapsed ? "[collapsed=true]" : "";
            // The header is one line: a newline would end the marker line early.
            var text = header.ReplaceLineEndings(" ");
            WriteLine($"{Erase}section_start:{Now()}:{_open}{options}\r{Erase}{text}");
        }
    }

    /// <summary>
    /// Ends the open section, if any. A task calls this before printing what must stay visible
    /// (a deploy summary); the task teardown's own end is then a no-op.
    /// </summary>
    public void End()
    {
        if (!Enabled) return;
        lock (_gate) EndOpen();
    }

    /// <summary>Ends the section only if <paramref name="name"/> is still the open one.</summary>
    public void End(string name)
    {
        if (!Enabled) return;
        lock (_gate)
        {
            if (_open == ValidName(name)) EndOpen();
        }
    }

    /// <summary>Letters, digits, <c>_</c>, <c>.</c> and <c>-</c>; anything else becomes <c>_</c>.</summary>
    public static string ValidName(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name) builder.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' ? c : '_');
        return builder.Length == 0 ? "section" : builder.ToString();
    }

    private void EndOpen()
    {
        if (_open is null) return;
        WriteLine($"{Erase}section_end:{Now()}:{_open}\r{Erase}");
        _open = null;
    }

    private long Now() => _clock.GetUtcNow().ToUnixTimeSeconds();

    private void WriteLine(string line)
    {
        var writer = _writer();
        writer.Write(line + "\n");
        writer.Flush();
    }
}
