namespace CycleGanEdge.Torch.Training;

/// <summary>
/// Every random draw of a training step is a function of (seed, epoch, iteration, purpose), so a run
/// resumed in the middle of an epoch makes the same draws as one that was never interrupted.
/// </summary>
public static class TrainingRandom
{
    public const long PoolPurpose = 1;
    public const long TorchPurpose = 2;

    /// <summary>SplitMix64 over the inputs: well mixed, cheap, the same on every platform.</summary>
    public static long Derive(int seed, long epoch, long iteration, long purpose)
    {
        ulong x = (ulong)(uint)seed;
        foreach (long part in (ReadOnlySpan<long>)[epoch, iteration, purpose])
        {
            x = Mix(x ^ Mix((ulong)part + 0x9E3779B97F4A7C15UL));
        }
        return (long)(x >> 1);
    }

    public static Random For(int seed, long epoch, long iteration, long purpose) =>
        new((int)(Derive(seed, epoch, iteration, purpose) & int.MaxValue));

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
