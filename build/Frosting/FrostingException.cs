namespace Cake.Frosting;

/// <summary>A failure of the host itself (a missing working directory, a task it cannot register).</summary>
public sealed class FrostingException : Exception
{
    public FrostingException(string message)
        : base(message)
    {
    }

    public FrostingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
