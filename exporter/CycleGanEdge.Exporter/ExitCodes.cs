namespace CycleGanEdge.Exporter;

public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The export or check ran and failed (bad file content, unsupported layer, parity).</summary>
    public const int Failure = 1;
    /// <summary>The command line is wrong (unknown option, bad value, missing or nonexistent file).</summary>
    public const int Usage = 2;
}
