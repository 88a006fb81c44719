namespace CycleGanEdge.Runtime.Evaluation;

/// <summary>Mean and standard deviation of the KID estimates over random subsets.</summary>
public sealed record KidResult(double Mean, double StdDev, int SubsetSize, int Subsets);

/// <summary>
/// Kernel Inception Distance (Bińkowski et al. 2018): the unbiased estimator of the squared MMD with the
/// cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³, averaged over random subsets of both sets.
/// </summary>
public static class Kid
{
    public static KidResult Compute(IReadOnlyList<float[]> x, IReadOnlyList<float[]> y, int subsetSize = 1000, int subsets = 100, int seed = 0)
    {
        if (x.Count < 2 || y.Count < 2) throw new ArgumentException("KID needs at least 2 images per set");
        int size = Math.Min(subsetSize, Math.Min(x.Count, y.Count));
        // Subsets as large as both sets are the sets themselves: one estimate says it all.
        if (size == x.Count && size == y.Count) return new KidResult(UnbiasedMmd2(x, y), 0, size, 1);

        var random = new Random(seed);
        var estimates = new double[subsets];
        for (int s = 0; s < subsets; s++)
            estimates[s] = UnbiasedMmd2(Sample(x, size, random), Sample(y, size, random));
        double mean = estimates.Average();
        double variance = estimates.Sum(e => (e - mean) * (e - mean)) / Math.Max(1, subsets - 1);
        return new KidResult(mean, Math.Sqrt(variance), size, subsets);
    }

    /// <summary>Unbiased MMD² between two whole sets (diagonal terms of the within-set kernels left out).</summary>
    public static double UnbiasedMmd2(IReadOnlyList<float[]> x, IReadOnlyList<float[]> y)
    {
        int m = x.Count, n = y.Count;
        int d = x[0].Length;
        double kxx = SumOffDiagonal(x, d), kyy = SumOffDiagonal(y, d);
        double kxy = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) kxy += Kernel(x[i], y[j], d);
        return kxx / (m * (m - 1.0)) + kyy / (n * (n - 1.0)) - 2 * kxy / ((double)m * n);
    }

    public static double Kernel(float[] a, float[] b, int d)
    {
        if (b.Length != a.Length) throw new ArgumentException($"feature sizes differ: {a.Length} vs {b.Length}");
        double dot = 0;
        for (int i = 0; i < a.Length; i++) dot += (double)a[i] * b[i];
        double k = dot / d + 1;
        return k * k * k;
    }

    private static double SumOffDiagonal(IReadOnlyList<float[]> x, int d)
    {
        double sum = 0;
        for (int i = 0; i < x.Count; i++)
            for (int j = i + 1; j < x.Count; j++) sum += Kernel(x[i], x[j], d);
        return 2 * sum;
    }

    private static List<float[]> Sample(IReadOnlyList<float[]> set, int size, Random random)
    {
        int[] index = Enumerable.Range(0, set.Count).ToArray();
        random.Shuffle(index);
        var subset = new List<float[]>(size);
        for (int i = 0; i < size; i++) subset.Add(set[index[i]]);
        return subset;
    }
}
