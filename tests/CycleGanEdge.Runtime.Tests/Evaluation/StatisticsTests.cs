using CycleGanEdge.Runtime.Evaluation;

namespace CycleGanEdge.Runtime.Tests.Evaluation;

public class StatisticsTests
{
    private static double[] RandomSymmetric(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++)
                a[i * n + j] = a[j * n + i] = rng.NextDouble() * 2 - 1;
        return a;
    }

    /// <summary>R diag(values) Rᵀ with R a random rotation (Gram–Schmidt of random vectors).</summary>
    private static double[] RotatedDiagonal(double[] values, double[] rotation)
    {
        int n = values.Length;
        var m = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                for (int k = 0; k < n; k++) m[i * n + j] += rotation[i * n + k] * values[k] * rotation[j * n + k];
        return m;
    }

    private static double[] RandomRotation(int n, int seed)
    {
        var rng = new Random(seed);
        var r = new double[n * n];
        for (int col = 0; col < n; col++)
        {
            var v = Enumerable.Range(0, n).Select(_ => rng.NextDouble() - 0.5).ToArray();
            for (int prev = 0; prev < col; prev++)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += v[i] * r[i * n + prev];
                for (int i = 0; i < n; i++) v[i] -= dot * r[i * n + prev];
            }
            double norm = Math.Sqrt(v.Sum(x => x * x));
            for (int i = 0; i < n; i++) r[i * n + col] = v[i] / norm;
        }
        return r;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(7, 3)]
    [InlineData(40, 4)]
    public void Eigendecomposition_rebuilds_the_matrix_with_orthonormal_vectors(int n, int seed)
    {
        double[] a = RandomSymmetric(n, seed);
        var (values, vectors) = SymmetricEigen.Decompose(a, n);
        for (int i = 1; i < n; i++) Assert.True(values[i - 1] <= values[i]);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double rebuilt = 0, dot = 0;
                for (int k = 0; k < n; k++)
                {
                    rebuilt += values[k] * vectors[k * n + i] * vectors[k * n + j];
                    dot += vectors[i * n + k] * vectors[j * n + k];
                }
                Assert.Equal(a[i * n + j], rebuilt, 1e-10);
                Assert.Equal(i == j ? 1 : 0, dot, 1e-10);
            }
    }

    [Fact]
    public void Values_only_agree_with_the_full_decomposition()
    {
        double[] a = RandomSymmetric(25, 6);
        var full = SymmetricEigen.Decompose(a, 25).Values;
        var values = SymmetricEigen.Values(a, 25);
        for (int i = 0; i < 25; i++) Assert.Equal(full[i], values[i], 1e-11);
    }

    [Fact]
    public void Eigenvalues_of_known_matrices()
    {
        Assert.Equal([1.0, 3.0], SymmetricEigen.Decompose([2, 1, 1, 2], 2).Values.Select(v => Math.Round(v, 12)));
        // Repeated eigenvalues and a zero block.
        var (values, _) = SymmetricEigen.Decompose([5, 0, 0, 0, 5, 0, 0, 0, 0], 3);
        Assert.Equal([0.0, 5.0, 5.0], values.Select(v => Math.Round(v, 12)));
        double[] rotated = RotatedDiagonal([0.5, 2, 9, 9, 30], RandomRotation(5, 8));
        Assert.Equal([0.5, 2, 9, 9, 30], SymmetricEigen.Decompose(rotated, 5).Values.Select(v => Math.Round(v, 9)));
    }

    private static List<float[]> RandomFeatures(int count, int dim, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => Enumerable.Range(0, dim).Select(d => (float)((rng.NextDouble() - 0.5) * scale * (1 + d % 3))).ToArray())
            .ToList();
    }

    [Fact]
    public void Fid_of_a_set_with_itself_is_zero()
    {
        var stats = GaussianStats.FromFeatures(RandomFeatures(60, 12, 1));
        Assert.Equal(0, Fid.Distance(stats, stats), 1e-9);
    }

    [Fact]
    public void Fid_of_a_shifted_copy_is_the_squared_shift()
    {
        var x = RandomFeatures(50, 10, 2);
        float[] shift = [0.5f, -1, 0, 2, 0.25f, 0, 0, -0.75f, 1, 0];
        var shifted = x.Select(v => v.Select((f, i) => f + shift[i]).ToArray()).ToList();
        double expected = shift.Sum(s => (double)s * s);
        double fid = Fid.Distance(GaussianStats.FromFeatures(x), GaussianStats.FromFeatures(shifted));
        Assert.Equal(expected, fid, 1e-4); // float32 features: the shifted copy's covariance differs by rounding
    }

    [Fact]
    public void Fid_of_commuting_gaussians_has_the_closed_form()
    {
        // Σ₁ = R diag(a) Rᵀ, Σ₂ = R diag(b) Rᵀ commute: FID = |Δμ|² + Σ (√aᵢ − √bᵢ)².
        double[] a = [1, 4, 0.25, 9, 2], b = [4, 1, 0.25, 16, 0.5];
        double[] r = RandomRotation(5, 3);
        var s1 = new GaussianStats(100, 5, [0, 1, 2, 3, 4], RotatedDiagonal(a, r));
        var s2 = new GaussianStats(100, 5, [1, 1, 2, 3, 2], RotatedDiagonal(b, r));
        double expected = 1 + 4 + a.Zip(b, (x, y) => (Math.Sqrt(x) - Math.Sqrt(y)) * (Math.Sqrt(x) - Math.Sqrt(y))).Sum();
        Assert.Equal(expected, Fid.Distance(s1, s2), 1e-9);
        Assert.Equal(expected, Fid.Distance(s2, s1), 1e-9);
    }

    [Fact]
    public void Fid_handles_singular_covariances()
    {
        // Fewer samples than dimensions: rank-deficient Σ, tiny negative eigenvalues from rounding are clamped.
        var x = RandomFeatures(5, 16, 4);
        var stats = GaussianStats.FromFeatures(x);
        Assert.Equal(0, Fid.Distance(stats, stats), 1e-8);
        Assert.True(Fid.Distance(stats, GaussianStats.FromFeatures(RandomFeatures(5, 16, 5))) > 0);
    }

    [Fact]
    public void Covariance_uses_n_minus_1_and_stats_round_trip_through_the_cache_format()
    {
        var stats = GaussianStats.FromFeatures([[1, 2], [3, 2], [5, 8]]);
        Assert.Equal([3.0, 4.0], stats.Mean);
        Assert.Equal([4.0, 6.0, 6.0, 12.0], stats.Covariance.Select(v => Math.Round(v, 12)));
        var ms = new MemoryStream();
        stats.Write(ms);
        ms.Position = 0;
        var back = GaussianStats.Read(ms);
        Assert.Equal((stats.Count, stats.Dimension), (back.Count, back.Dimension));
        Assert.Equal(stats.Mean, back.Mean);
        Assert.Equal(stats.Covariance, back.Covariance);
    }

    [Fact]
    public void Kid_unbiased_estimator_matches_a_hand_computed_case()
    {
        // d = 1, k(x, y) = (xy + 1)³. Within X: k(0,1) = 1; within Y: k(1,2) = 27;
        // across: k(0,1) + k(0,2) + k(1,1) + k(1,2) = 1 + 1 + 8 + 27 = 37.
        // MMD² = 1 + 27 − 2·37/4 = 9.5.
        List<float[]> x = [[0], [1]], y = [[1], [2]];
        Assert.Equal(9.5, Kid.UnbiasedMmd2(x, y), 12);
        var result = Kid.Compute(x, y);
        Assert.Equal((9.5, 0.0, 2, 1), (Math.Round(result.Mean, 12), result.StdDev, result.SubsetSize, result.Subsets));
    }

    [Fact]
    public void Kid_uses_the_dimension_in_the_kernel_and_subsets_of_the_smaller_set()
    {
        // d = 2: k(x, y) = (xᵀy/2 + 1)³. X = {(0,0), (2,0)}, Y = {(0,2), (2,2)}.
        // Kxx: k(0,(2,0)) = 1. Kyy: k((0,2),(2,2)) = (4/2+1)³ = 27.
        // Kxy: (0,0)·anything → 1, 1; (2,0)·(0,2) = 0 → 1; (2,0)·(2,2) = 4 → 27. Sum 30.
        List<float[]> x = [[0, 0], [2, 0]], y = [[0, 2], [2, 2]];
        Assert.Equal(1 + 27 - 2 * 30 / 4.0, Kid.UnbiasedMmd2(x, y), 12);

        var big = RandomFeatures(30, 4, 6);
        var small = RandomFeatures(10, 4, 7);
        var r = Kid.Compute(big, small, subsetSize: 1000, subsets: 20, seed: 1);
        Assert.Equal((10, 20), (r.SubsetSize, r.Subsets));
        Assert.True(r.StdDev > 0);
        Assert.Equal(r, Kid.Compute(big, small, subsetSize: 1000, subsets: 20, seed: 1)); // seeded: reproducible
    }

    [Fact]
    public void Kid_of_two_samples_of_one_distribution_is_near_zero_and_of_different_ones_is_not()
    {
        var a = RandomFeatures(200, 6, 10);
        var b = RandomFeatures(200, 6, 11);
        var far = RandomFeatures(200, 6, 12, scale: 3);
        var same = Kid.Compute(a, b, subsetSize: 100, subsets: 50);
        var different = Kid.Compute(a, far, subsetSize: 100, subsets: 50);
        Assert.True(Math.Abs(same.Mean) < 3 * same.StdDev + 1e-3, $"{same}");
        Assert.True(different.Mean > 10 * Math.Abs(same.Mean) && different.Mean > 3 * different.StdDev, $"{different} vs {same}");
    }
}
