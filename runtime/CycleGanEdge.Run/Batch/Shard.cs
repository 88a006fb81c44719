using System.Globalization;
using System.Text;

namespace CycleGanEdge.Run.Batch;

/// <summary>
/// Worker <see cref="Index"/> of <see cref="Count"/> (0-based, like Kubernetes' JOB_COMPLETION_INDEX and
/// Slurm's SLURM_ARRAY_TASK_ID). An image belongs to the worker its relative output path hashes to, so
/// workers that are given the same inputs and options split them without talking to each other: every
/// image is done by exactly one worker, whatever machine, folder mount or order the workers list them in.
/// </summary>
public sealed record Shard(int Index, int Count)
{
    public const string Usage = "--shard must be i/n with 0 <= i < n (0-based), e.g. 0/4 .. 3/4.";

    /// <summary>Parses "i/n"; null when it is not two whole numbers with 0 &lt;= i &lt; n.</summary>
    public static Shard? Parse(string? value)
    {
        var parts = (value ?? "").Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count)
            || count < 1 || index >= count)
            return null;
        return new Shard(index, count);
    }

    /// <summary>True when this worker owns the image whose output is <paramref name="relativeOutput"/> (any separator).</summary>
    public bool Owns(string relativeOutput) => (int)(Hash(relativeOutput) % (ulong)Count) == Index;

    /// <summary>
    /// 64-bit FNV-1a of the normalised UTF-8 path: the same on every machine, runtime and process
    /// (string.GetHashCode is randomised per process).
    /// </summary>
    public static ulong Hash(string relativePath)
    {
        ulong hash = 14695981039346656037;
        foreach (byte b in Encoding.UTF8.GetBytes(Normalise(relativePath)))
        {
            hash ^= b;
            hash *= 1099511628211;
        }
        return hash;
    }

    /// <summary>'/' separators, so Windows and Linux workers agree.</summary>
    private static string Normalise(string path) => path.Replace(Path.DirectorySeparatorChar, '/');

    public override string ToString() => $"{Index}/{Count}";
}
