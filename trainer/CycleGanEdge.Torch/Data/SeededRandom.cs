namespace CycleGanEdge.Torch.Data;

/// <summary>
/// SplitMix64: small, fast and fully specified, so a (seed, epoch, item) triple gives the same numbers
/// on every machine and .NET version, whichever thread draws them.
/// </summary>
internal struct SeededRandom(ulong seed)
{
    private ulong _state = seed;

    /// <summary>A generator for one stream of one item, independent of every other (seed, epoch, item, stream).</summary>
    public static SeededRandom For(int seed, int epoch, long item, int stream)
    {
        var mixer = new SeededRandom((ulong)(uint)seed);
        ulong s = mixer.NextUInt64() ^ (ulong)(uint)epoch;
        mixer = new SeededRandom(s);
        s = mixer.NextUInt64() ^ (ulong)item;
        mixer = new SeededRandom(s);
        s = mixer.NextUInt64() ^ (ulong)(uint)stream;
        return new SeededRandom(s);
    }

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, maxExclusive).</summary>
    public int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        // Multiply-shift on the top 32 bits: bias below 2^-32 for any int range, which is negligible here.
        return (int)(((NextUInt64() >> 32) * (ulong)maxExclusive) >> 32);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public void Shuffle<T>(T[] items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
