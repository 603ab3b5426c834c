namespace Build.Deployment;

/// <summary>
/// The remote root, the only path that goes on a remote command line: validated once, here, for the setting
/// (where <c>{server}</c> may stand for the server name) and for every session.
/// </summary>
public readonly record struct RemoteRoot
{
    private RemoteRoot(string path) => Path = path;

    /// <summary>Absolute, without a trailing slash.</summary>
    public string Path { get; }

    /// <summary>
    /// Absolute, not <c>/</c>, no empty (<c>//</c>), <c>.</c> or <c>..</c> segment, no control character. A trailing
    /// slash is dropped. Null with <paramref name="problem"/> set when it is none of that.
    /// </summary>
    public static RemoteRoot? Parse(string text, out string? problem)
    {
        var root = text.Trim();
        root = root.Length > 1 ? root.TrimEnd('/') : root;
        problem = root switch
        {
            _ when !root.StartsWith('/') => "not an absolute path",
            "/" or "" => "the root directory /",
            _ when root.Any(char.IsControl) => "contains a control character",
            _ when root[1..].Split('/').Any(part => part is "" or "." or "..") => "contains an empty, . or .. segment",
            _ => null,
        };
        return problem is null ? new RemoteRoot(root) : null;
    }

    /// <summary>The root, or a settings error naming the rule it breaks.</summary>
    public static RemoteRoot Of(string text) =>
        Parse(text, out var problem)
        ?? throw new Settings.SettingsException($"--remote-root \"{ServerText.Clean(text, 200)}\": {problem}. Give an absolute path other than \"/\", without \".\", \"..\" or empty segments (DEPLOY_ROOT or deploy.json \"remote-root\").");

    /// <summary>The root of one server: <c>{server}</c> expands to its (validated) name.</summary>
    public RemoteRoot For(string server) =>
        Parse(Path.Replace("{server}", server, StringComparison.Ordinal), out var problem)
        ?? throw new Settings.SettingsException($"--remote-root for {server}: {problem}.");

    public override string ToString() => Path;
}
