using System.Diagnostics;
using System.Text;
using Build.Output;

namespace Build.Processes;

/// <summary>What to run. Arguments are passed as a list (never through a shell).</summary>
public sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    public string? WorkingDirectory { get; init; }

    /// <summary>Variables to set (a null value removes the variable) on top of the scrubbed environment.</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>Called with each line of stdout and stderr, already redacted.</summary>
    public Action<string>? OnLine { get; init; }

    /// <summary>Bound on the run; the process tree is killed when it passes.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Text written to the child's stdin before it is closed (how a secret reaches a tool without argv).</summary>
    public string? StandardInput { get; init; }

    public override string ToString() => string.Join(' ', Arguments.Prepend(FileName).Select(Quote));

    private static string Quote(string s) => s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,@+".Contains(c)) ? s : $"'{s.Replace("'", "'\\''")}'";
}

public sealed record ProcessResult(int ExitCode, string Output, string Error)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The last lines of stderr, else stdout: enough to say why a tool failed.</summary>
    public string Tail(int lines = 10)
    {
        var text = string.IsNullOrWhiteSpace(Error) ? Output : Error;
        return string.Join('\n', text.TrimEnd().Split('\n').TakeLast(lines));
    }
}

public interface IProcessRunner
{
    Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken);
}

/// <summary>
/// Runs child processes with an environment that holds no secret variable, captures their output
/// through the redactor, and kills the whole tree on cancellation or timeout.
/// </summary>
public sealed class ProcessRunner(Redactor redactor) : IProcessRunner
{
    public async Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
    {
        using var process = new Process { StartInfo = StartInfo(spec) };
        var output = new StringBuilder();
        var error = new StringBuilder();
        var outputDone = new TaskCompletionSource();
        var errorDone = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) => Collect(e.Data, output, outputDone);
        process.ErrorDataReceived += (_, e) => Collect(e.Data, error, errorDone);

        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new PipelineException($"Could not start {spec.FileName}: {e.Message}. Is it installed and on PATH?", inner: e);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeout = spec.Timeout is { } t ? new CancellationTokenSource(t) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await WriteInputAsync(process, spec.StandardInput, linked.Token);
            await process.WaitForExitAsync(linked.Token);
            await Task.WhenAll(outputDone.Task, errorDone.Task).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None)
                .ContinueWith(_ => { }, TaskScheduler.Default);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            cancellationToken.ThrowIfCancellationRequested();
            throw new PipelineException($"{Path.GetFileName(spec.FileName)} did not finish within {spec.Timeout}: stopped it.");
        }
        lock (output) lock (error) return new ProcessResult(process.ExitCode, output.ToString(), error.ToString());

        void Collect(string? line, StringBuilder into, TaskCompletionSource done)
        {
            if (line is null) { done.TrySetResult(); return; }
            line = redactor.Redact(line);
            lock (into) into.Append(line).Append('\n');
            spec.OnLine?.Invoke(line);
        }
    }

    public static ProcessStartInfo StartInfo(ProcessSpec spec)
    {
        var info = new ProcessStartInfo(spec.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
            UseShellExecute = false,
            WorkingDirectory = spec.WorkingDirectory ?? Directory.GetCurrentDirectory(),
        };
        foreach (var argument in spec.Arguments) info.ArgumentList.Add(argument);
        ScrubSecrets(info.Environment);
        foreach (var (name, value) in spec.Environment)
        {
            if (value is null) info.Environment.Remove(name);
            else info.Environment[name] = value;
        }
        return info;
    }

    /// <summary>Children get no secret: a tool that needs one gets it through a file or stdin.</summary>
    public static void ScrubSecrets(IDictionary<string, string?> environment)
    {
        foreach (var name in Redactor.SecretVariables) environment.Remove(name);
    }

    private static async Task WriteInputAsync(Process process, string? input, CancellationToken cancellationToken)
    {
        try
        {
            if (input is not null)
            {
                await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken);
                await process.StandardInput.FlushAsync(cancellationToken);
            }
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The child exited without reading its input; its exit code says why.
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}
