namespace Build.Tailnet.Policy;

/// <summary>A line diff (longest common subsequence) of two canonical policies: "- old" and "+ new" lines with a little context.</summary>
public static class TextDiff
{
    public static IReadOnlyList<string> Lines(string before, string after, int context = 2)
    {
        var a = before.Split('\n');
        var b = after.Split('\n');
        // Policies are a few hundred lines: the quadratic table is small.
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
            for (var j = b.Length - 1; j >= 0; j--)
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
        var script = new List<(char Kind, string Line)>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y]) { script.Add((' ', a[x])); x++; y++; }
            else if (y < b.Length && (x == a.Length || lcs[x, y + 1] >= lcs[x + 1, y])) script.Add(('+', b[y++]));
            else script.Add(('-', a[x++]));
        }
        var result = new List<string>();
        var last = -1;
        for (var k = 0; k < script.Count; k++)
        {
            if (script[k].Kind == ' ') continue;
            var from = Math.Max(k - context, last + 1);
            if (last >= 0 && from > last + 1) result.Add("  ...");
            for (var c = from; c < k; c++) result.Add("  " + script[c].Line);
            result.Add($"{script[k].Kind} {script[k].Line}");
            last = k;
            // Trailing context, unless another change follows closely.
            var end = Math.Min(script.Count - 1, k + context);
            var next = script.FindIndex(k + 1, s => s.Kind != ' ');
            if (next < 0 || next > end)
            {
                for (var c = k + 1; c <= end; c++) result.Add("  " + script[c].Line);
                last = end;
            }
        }
        return result;
    }
}
