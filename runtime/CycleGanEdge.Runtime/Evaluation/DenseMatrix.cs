using System.Numerics.Tensors;

namespace CycleGanEdge.Runtime.Evaluation;

/// <summary>The few float64 row-major matrix products the statistics need (vectorised rows, parallel over rows).</summary>
internal static class DenseMatrix
{
    /// <summary>C (m×n) = A (m×k) · B (k×n).</summary>
    public static double[] Multiply(double[] a, double[] b, int m, int k, int n)
    {
        var c = new double[m * n];
        Parallel.For(0, m, i =>
        {
            Span<double> row = c.AsSpan(i * n, n);
            for (int p = 0; p < k; p++)
            {
                double aip = a[i * k + p];
                if (aip != 0) TensorPrimitives.MultiplyAdd(b.AsSpan(p * n, n), aip, row, row);
            }
        });
        return c;
    }

    /// <summary>C (m×n) = A (m×k) · Bᵀ where B is n×k.</summary>
    public static double[] MultiplyTransposed(double[] a, double[] b, int m, int k, int n)
    {
        var c = new double[m * n];
        Parallel.For(0, m, i =>
        {
            ReadOnlySpan<double> ai = a.AsSpan(i * k, k);
            for (int j = 0; j < n; j++) c[i * n + j] = TensorPrimitives.Dot(ai, b.AsSpan(j * k, k));
        });
        return c;
    }

    public static double Trace(double[] a, int n)
    {
        double t = 0;
        for (int i = 0; i < n; i++) t += a[i * n + i];
        return t;
    }

    /// <summary>Averages a with its transpose in place (removes rounding asymmetry before an eigendecomposition).</summary>
    public static void Symmetrize(double[] a, int n)
    {
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double mean = 0.5 * (a[i * n + j] + a[j * n + i]);
                a[i * n + j] = mean;
                a[j * n + i] = mean;
            }
    }
}
