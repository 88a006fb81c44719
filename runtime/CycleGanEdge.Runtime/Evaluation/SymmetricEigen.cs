namespace CycleGanEdge.Runtime.Evaluation;

/// <summary>
/// Eigendecomposition of a real symmetric matrix in float64: Householder reduction to tridiagonal form,
/// then the implicit QL method (the classic tred2/tql2 pair, as in EISPACK and JAMA). O(n³), stable,
/// and without a numerics package in the runtime.
/// </summary>
public static class SymmetricEigen
{
    /// <summary>
    /// Decomposes the row-major n×n symmetric matrix <paramref name="a"/> (only read, never changed).
    /// Returns the eigenvalues in ascending order and the eigenvectors as the rows of a row-major n×n
    /// array (row j belongs to value j), so a = Σ λⱼ vⱼ vⱼᵀ.
    /// </summary>
    public static (double[] Values, double[] Vectors) Decompose(ReadOnlySpan<double> a, int n)
    {
        if (a.Length != n * n) throw new ArgumentException($"expected {n}x{n} values, got {a.Length}", nameof(a));
        if (n == 0) return ([], []);
        double[] v = a.ToArray();
        var d = new double[n];
        var e = new double[n];
        Tridiagonalize(v, d, e, n);
        DiagonalizeTridiagonal(v, d, e, n, vectors: true);
        return SortAscending(d, v, n);
    }

    /// <summary>Eigenvalues only, ascending: skips the O(n³) eigenvector rotations of the QL step.</summary>
    public static double[] Values(ReadOnlySpan<double> a, int n)
    {
        if (a.Length != n * n) throw new ArgumentException($"expected {n}x{n} values, got {a.Length}", nameof(a));
        if (n == 0) return [];
        double[] v = a.ToArray();
        var d = new double[n];
        var e = new double[n];
        Tridiagonalize(v, d, e, n);
        DiagonalizeTridiagonal(v, d, e, n, vectors: false);
        Array.Sort(d);
        return d;
    }

    /// <summary>
    /// Householder reduction: d gets the diagonal, e the sub-diagonal, v the orthogonal transform.
    /// Written with row and column swapped against the textbook (a is symmetric, so the input is the same):
    /// the O(n³) loops then walk rows, contiguous in memory, and v ends up holding the transform transposed,
    /// whose rows are what the QL step rotates.
    /// </summary>
    private static void Tridiagonalize(double[] v, double[] d, double[] e, int n)
    {
        for (int j = 0; j < n; j++) d[j] = v[j * n + n - 1];
        for (int i = n - 1; i > 0; i--)
        {
            double scale = 0, h = 0;
            for (int k = 0; k < i; k++) scale += Math.Abs(d[k]);
            if (scale == 0)
            {
                e[i] = d[i - 1];
                for (int j = 0; j < i; j++)
                {
                    d[j] = v[j * n + i - 1];
                    v[j * n + i] = 0;
                    v[i * n + j] = 0;
                }
            }
            else
            {
                for (int k = 0; k < i; k++)
                {
                    d[k] /= scale;
                    h += d[k] * d[k];
                }
                double f = d[i - 1];
                double g = Math.Sqrt(h);
                if (f > 0) g = -g;
                e[i] = scale * g;
                h -= f * g;
                d[i - 1] = f - g;
                Array.Clear(e, 0, i);
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    v[i * n + j] = f;
                    g = e[j] + v[j * n + j] * f;
                    for (int k = j + 1; k <= i - 1; k++)
                    {
                        g += v[j * n + k] * d[k];
                        e[k] += v[j * n + k] * f;
                    }
                    e[j] = g;
                }
                f = 0;
                for (int j = 0; j < i; j++)
                {
                    e[j] /= h;
                    f += e[j] * d[j];
                }
                double hh = f / (h + h);
                for (int j = 0; j < i; j++) e[j] -= hh * d[j];
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    g = e[j];
                    for (int k = j; k <= i - 1; k++) v[j * n + k] -= f * e[k] + g * d[k];
                    d[j] = v[j * n + i - 1];
                    v[j * n + i] = 0;
                }
            }
            d[i] = h;
        }

        // Accumulate the transformations.
        for (int i = 0; i < n - 1; i++)
        {
            v[i * n + n - 1] = v[i * n + i];
            v[i * n + i] = 1;
            double h = d[i + 1];
            if (h != 0)
            {
                for (int k = 0; k <= i; k++) d[k] = v[(i + 1) * n + k] / h;
                for (int j = 0; j <= i; j++)
                {
                    double g = 0;
                    for (int k = 0; k <= i; k++) g += v[(i + 1) * n + k] * v[j * n + k];
                    for (int k = 0; k <= i; k++) v[j * n + k] -= g * d[k];
                }
            }
            for (int k = 0; k <= i; k++) v[(i + 1) * n + k] = 0;
        }
        for (int j = 0; j < n; j++)
        {
            d[j] = v[j * n + n - 1];
            v[j * n + n - 1] = 0;
        }
        v[(n - 1) * n + n - 1] = 1;
        e[0] = 0;
    }

    /// <summary>Implicit QL iterations on the tridiagonal (d, e); w holds the transform transposed (rows are vectors).</summary>
    private static void DiagonalizeTridiagonal(double[] w, double[] d, double[] e, int n, bool vectors)
    {
        for (int i = 1; i < n; i++) e[i - 1] = e[i];
        e[n - 1] = 0;
        double f = 0, tst1 = 0;
        double eps = Math.Pow(2, -52);
        for (int l = 0; l < n; l++)
        {
            tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
            int m = l;
            while (m < n && Math.Abs(e[m]) > eps * tst1) m++;
            if (m == n) m = n - 1; // e[n-1] is 0, so this only guards against NaN input
            if (m > l)
            {
                int iterations = 0;
                do
                {
                    if (++iterations > 100) throw new ArithmeticException("eigenvalue iteration did not converge (NaN or infinite values?)");
                    double g = d[l];
                    double p = (d[l + 1] - g) / (2 * e[l]);
                    double r = Hypot(p, 1);
                    if (p < 0) r = -r;
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1];
                    double h = g - d[l];
                    for (int i = l + 2; i < n; i++) d[i] -= h;
                    f += h;

                    p = d[m];
                    double c = 1, c2 = 1, c3 = 1;
                    double el1 = e[l + 1];
                    double s = 0, s2 = 0;
                    for (int i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        if (vectors) Rotate(w.AsSpan(i * n, n), w.AsSpan((i + 1) * n, n), c, s);
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                } while (Math.Abs(e[l]) > eps * tst1);
            }
            d[l] += f;
            e[l] = 0;
        }
    }

    private static void Rotate(Span<double> rowI, Span<double> rowI1, double c, double s)
    {
        for (int k = 0; k < rowI.Length; k++)
        {
            double h = rowI1[k];
            rowI1[k] = s * rowI[k] + c * h;
            rowI[k] = c * rowI[k] - s * h;
        }
    }

    private static double Hypot(double a, double b)
    {
        a = Math.Abs(a);
        b = Math.Abs(b);
        if (a > b) return a * Math.Sqrt(1 + b / a * (b / a));
        return b == 0 ? 0 : b * Math.Sqrt(1 + a / b * (a / b));
    }

    private static (double[] Values, double[] Vectors) SortAscending(double[] d, double[] w, int n)
    {
        int[] order = Enumerable.Range(0, n).ToArray();
        Array.Sort(d.ToArray(), order);
        var values = new double[n];
        var vectors = new double[n * n];
        for (int j = 0; j < n; j++)
        {
            values[j] = d[order[j]];
            w.AsSpan(order[j] * n, n).CopyTo(vectors.AsSpan(j * n, n));
        }
        return (values, vectors);
    }
}
