namespace Build.Settings;

/// <summary>Bad settings or input: nothing was changed. Exit code 2.</summary>
public class SettingsException(string message, Exception? inner = null) : PipelineException(message, ExitCodes.BadSettings, inner);
