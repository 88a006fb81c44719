namespace CycleGanEdge.Core.CommandLine;

/// <summary>The exit codes of cyclegan-train, cyclegan-export and cyclegan-run (the table is in docs/user-guide.md).</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The command line was fine but the work failed: a file could not be read or is not valid, some inputs failed.</summary>
    public const int Failed = 1;
    /// <summary>The command line is wrong (unknown option, bad value, missing file, options that exclude each other): nothing was done.</summary>
    public const int Usage = 2;
    /// <summary>Training diverged: a loss became NaN or infinite, so the run stopped.</summary>
    public const int Diverged = 3;
    /// <summary>Stopped by Ctrl+C (128 + SIGINT, as shells do).</summary>
    public const int Interrupted = 130;

    /// <summary>
    /// For an error found before any work: a model or file that exists but cannot be used fails the run (1);
    /// anything else (a provider this build lacks, a value the work rejects) is a usage error (2).
    /// </summary>
    public static int ForStartError(Exception e) =>
        e is InvalidModelException or IOException or UnauthorizedAccessException ? Failed : Usage;
}
