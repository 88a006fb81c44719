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

    /// <summary>
    /// An emoji-like RGBA image: an opaque disc with a soft edge (alpha ramping to 0 over 3 pixels) on a fully
    /// transparent background whose RGB is garbage (seeded noise), like the RGB under transparent pixels of real PNGs.
    /// </summary>
    public static RgbaImage Shape(int width, int height, int seed)
    {
        var rng = new Random(seed);
        var px = new byte[width * height * 4];
        double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0, radius = Math.Min(width, height) * 0.35;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = (y * width + x) * 4;
                double edge = (radius - Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy))) / 3;
                byte a = (byte)Math.Round(255 * Math.Clamp(edge, 0, 1));
                px[i + 3] = a;
                if (a == 0)
                {
                    px[i] = (byte)rng.Next(256);
                    px[i + 1] = (byte)rng.Next(256);
                    px[i + 2] = (byte)rng.Next(256);
                    continue;
                }
                px[i] = (byte)(60 + x * 150 / width);
                px[i + 1] = (byte)(200 - y * 150 / height);
                px[i + 2] = (byte)(40 + (x + y) * 80 / (width + height));
            }
        return new RgbaImage(width, height, px, hasAlpha: true);
    }

    /// <summary>An opaque copy composited onto white, written out here (not with the code under test): (c·a + 255·(255−a) + 127) / 255.</summary>
    public static RgbaImage OnWhite(RgbaImage image)
    {
        var px = new byte[image.Pixels.Length];
        for (int i = 0; i < px.Length; i += 4)
        {
            int a = image.Pixels[i + 3];
            for (int c = 0; c < 3; c++) px[i + c] = (byte)((image.Pixels[i + c] * a + 255 * (255 - a) + 127) / 255);
            px[i + 3] = 255;
        }
        return new RgbaImage(image.Width, image.Height, px, hasAlpha: false);
    }

    /// <summary>Mean absolute RGB difference over the pixels where <paramref name="shape"/>'s alpha is above 0.</summary>
    public static double MeanDifferenceInside(RgbaImage shape, RgbaImage a, RgbaImage b)
    {
        long sum = 0, n = 0;
        for (int i = 0; i < shape.Pixels.Length; i += 4)
        {
            if (shape.Pixels[i + 3] == 0) continue;
            for (int c = 0; c < 3; c++) sum += Math.Abs(a.Pixels[i + c] - b.Pixels[i + c]);
            n += 3;
        }
        return (double)sum / n;
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
