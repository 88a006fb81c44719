using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests;

internal static class TestImages
{
    /// <summary>Seeded noise plus gradients; alpha varies when <paramref name="alpha"/> is set.</summary>
    public static RgbaImage Random(int width, int height, bool alpha = false, int seed = 7)
    {
        var rng = new Random(seed);
        var px = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = (y * width + x) * 4;
                px[i] = (byte)(x * 255 / Math.Max(1, width - 1));
                px[i + 1] = (byte)(y * 255 / Math.Max(1, height - 1));
                px[i + 2] = (byte)rng.Next(256);
                px[i + 3] = alpha ? (byte)rng.Next(256) : (byte)255;
            }
        return new RgbaImage(width, height, px, alpha);
    }

    public static int MaxDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        Assert.Equal(a.Length, b.Length);
        int max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    public static double MeanDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        long sum = 0;
        for (int i = 0; i < a.Length; i++) sum += Math.Abs(a[i] - b[i]);
        return (double)sum / a.Length;
    }
}
