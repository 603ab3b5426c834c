using System.Text;
using System.Text.Json;

namespace Build.Tailnet.Policy;

/// <summary>A HuJSON syntax error with its 1-based line and column (bad input: exit 2).</summary>
public sealed class HuJsonException(string source, int line, int column, string problem)
    : Settings.SettingsException($"{source}:{line}:{column}: {problem}")
{
    public int Line { get; } = line;
    public int Column { get; } = column;
}

/// <summary>
/// HuJSON (JSON with comments and trailing commas) as Tailscale writes its policy files. System.Text.Json
/// reads exactly that with comments skipped and trailing commas allowed, so no second parser is needed;
/// its error position is turned into the line and column an editor shows.
/// </summary>
public static class HuJson
{
    private static readonly JsonDocumentOptions Options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 64,
    };

    public static JsonDocument Parse(string text, string source)
    {
        try
        {
            return JsonDocument.Parse(text, Options);
        }
        catch (JsonException e)
        {
            var line = (int)(e.LineNumber ?? 0);
            var column = ColumnOf(text, line, (int)(e.BytePositionInLine ?? 0));
            throw new HuJsonException(source, line + 1, column + 1, Problem(e.Message));
        }
    }

    /// <summary>The reader counts UTF-8 bytes within the line; an editor counts characters.</summary>
    private static int ColumnOf(string text, int line, int bytes)
    {
        var lines = text.Split('\n');
        if (line >= lines.Length) return bytes;
        var content = Encoding.UTF8.GetBytes(lines[line]);
        return Encoding.UTF8.GetCharCount(content, 0, Math.Min(bytes, content.Length));
    }

    // System.Text.Json appends its own (0-based) position; the message already names line and column.
    private static string Problem(string message)
    {
        var at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (at > 0 ? message[..at] : message).Trim().TrimEnd('.') + ".";
    }

    /// <summary>
    /// The document's content in a canonical form (object keys sorted, no comments, fixed layout):
    /// two policies are the same when their canonical forms are equal.
    /// </summary>
    public static string Canonical(JsonElement element)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            Write(writer, element);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray()) Write(writer, item);
                writer.WriteEndArray();
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}
