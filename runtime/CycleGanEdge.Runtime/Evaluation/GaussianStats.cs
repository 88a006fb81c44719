using System.Numerics.Tensors;

namespace CycleGanEdge.Runtime.Evaluation;

/// <summary>Mean and covariance (float64, n−1 denominator) of a set of feature vectors: what FID compares.</summary>
public sealed record GaussianStats(int Count, int Dimension, double[] Mean, double[] Covariance)
{
    public static GaussianStats FromFeatures(IReadOnlyList<float[]> features)
    {
        if (features.Count < 2) throw new ArgumentException($"FID needs at least 2 images per set, got {features.Count}");
        int d = features[0].Length;
        int n = features.Count;
        var mean = new double[d];
        var centred = new double[n * d];
        for (int s = 0; s < n; s++)
        {
            if (features[s].Length != d) throw new ArgumentException($"feature vector {s} has {features[s].Length} values, expected {d}");
            for (int i = 0; i < d; i++) mean[i] += features[s][i];
        }
        for (int i = 0; i < d; i++) mean[i] /= n;
        for (int s = 0; s < n; s++)
            for (int i = 0; i < d; i++) centred[s * d + i] = features[s][i] - mean[i];

        // Upper triangle row by row, then mirrored: Σ[i, j≥i] = Σₛ xₛᵢ xₛⱼ / (n−1).
        var cov = new double[d * d];
        Parallel.For(0, d, i =>
        {
            Span<double> row = cov.AsSpan(i * d + i, d - i);
            for (int s = 0; s < n; s++)
            {
                double xi = centred[s * d + i];
                if (xi != 0) TensorPrimitives.MultiplyAdd(centred.AsSpan(s * d + i, d - i), xi, row, row);
            }
            TensorPrimitives.Divide(row, n - 1, row);
        });
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++) cov[j * d + i] = cov[i * d + j];
        return new GaussianStats(n, d, mean, cov);
    }

    /// <summary>Binary form for the statistics cache.</summary>
    public void Write(Stream stream)
    {
        using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Count);
        w.Write(Dimension);
        foreach (double x in Mean) w.Write(x);
        foreach (double x in Covariance) w.Write(x);
    }

    public static GaussianStats Read(Stream stream)
    {
        using var r = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        if (r.ReadInt64() != Magic) throw new InvalidDataException("not a feature statistics file");
        int count = r.ReadInt32();
        int d = r.ReadInt32();
        if (d <= 0 || d > 1 << 15) throw new InvalidDataException($"bad dimension {d}");
        var mean = new double[d];
        var cov = new double[d * d];
        for (int i = 0; i < d; i++) mean[i] = r.ReadDouble();
        for (int i = 0; i < cov.Length; i++) cov[i] = r.ReadDouble();
        return new GaussianStats(count, d, mean, cov);
    }

    private const long Magic = 0x3173_7461_7453_4946; // "FIDStats1" tag, version 1
}

/// <summary>Fréchet distance between two Gaussians fitted to feature sets (FID).</summary>
public static class Fid
{
    /// <summary>|μ₁−μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂).</summary>
    public static double Distance(GaussianStats a, GaussianStats b)
    {
        if (a.Dimension != b.Dimension) throw new ArgumentException($"feature sizes differ: {a.Dimension} vs {b.Dimension}");
        int n = a.Dimension;
        double meanTerm = 0;
        for (int i = 0; i < n; i++)
        {
            double diff = a.Mean[i] - b.Mean[i];
            meanTerm += diff * diff;
        }
        double fid = meanTerm + DenseMatrix.Trace(a.Covariance, n) + DenseMatrix.Trace(b.Covariance, n)
                     - 2 * TraceSqrtProduct(a.Covariance, b.Covariance, n);
        return Math.Max(0, fid); // rounding can leave a tiny negative for identical sets
    }

    /// <summary>
    /// tr √(Σ₁Σ₂) for symmetric positive semi-definite Σ₁, Σ₂, without the non-symmetric sqrtm:
    /// Σ₁ = Vᵀ Λ V, B = Λ^½ V, and B Σ₂ Bᵀ is symmetric PSD with the same eigenvalues as Σ₁^½ Σ₂ Σ₁^½,
    /// whose square roots sum to the trace. Tiny negative eigenvalues (rounding) are clamped to 0.
    /// </summary>
    public static double TraceSqrtProduct(double[] sigma1, double[] sigma2, int n)
    {
        var (values, vectors) = SymmetricEigen.Decompose(sigma1, n);
        var b = vectors; // rows vⱼ, scaled in place to √λⱼ vⱼ
        for (int j = 0; j < n; j++)
            TensorPrimitives.Multiply(b.AsSpan(j * n, n), Math.Sqrt(Math.Max(0, values[j])), b.AsSpan(j * n, n));
        double[] bs = DenseMatrix.Multiply(b, sigma2, n, n, n);
        double[] m = DenseMatrix.MultiplyTransposed(bs, b, n, n, n);
        DenseMatrix.Symmetrize(m, n);
        double[] mValues = SymmetricEigen.Values(m, n);
        double trace = 0;
        foreach (double v in mValues) trace += Math.Sqrt(Math.Max(0, v));
        return trace;
    }
}
