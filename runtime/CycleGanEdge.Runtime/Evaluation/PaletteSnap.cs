using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Evaluation;

/// <summary>
/// The recolouring baseline for style judges: every pixel of an image replaced by the nearest colour of another
/// domain's palette. Shapes, lines and shading stay those of the source, so a judge that calls the result the
/// target domain is judging colour, not style.
/// </summary>
public static class PaletteSnap
{
    public const int DefaultColours = 32;

    /// <summary>A palette of <paramref name="colours"/> RGB colours: k-means (seeded k-means++ start, 12 rounds) over every 3rd pixel.</summary>
    public static byte[][] Palette(IEnumerable<RgbaImage> images, int colours = DefaultColours, int seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(colours, 1);
        var samples = new List<(float R, float G, float B)>();
        foreach (var image in images)
        {
            var p = image.Pixels;
            for (int i = 0; i < p.Length; i += 12)
                if (!image.HasAlpha || p[i + 3] >= 128)
                    samples.Add((p[i], p[i + 1], p[i + 2]));
        }
        if (samples.Count == 0) throw new ArgumentException("no opaque pixels to make a palette from");
        var random = new Random(seed);
        var centres = new List<(float R, float G, float B)> { samples[random.Next(samples.Count)] };
        var nearest = new float[samples.Count];
        while (centres.Count < Math.Min(colours, samples.Count))
        {
            double total = 0;
            for (int i = 0; i < samples.Count; i++) total += nearest[i] = Distance(samples[i], centres[Nearest(samples[i], centres)]);
            double pick = random.NextDouble() * total;
            int chosen = 0;
            for (double sum = 0; chosen < samples.Count - 1 && (sum += nearest[chosen]) < pick; chosen++) { }
            centres.Add(samples[chosen]);
        }
        var assignment = new int[samples.Count];
        for (int round = 0; round < 12; round++)
        {
            var sums = new double[centres.Count, 4];
            for (int i = 0; i < samples.Count; i++)
            {
                int c = assignment[i] = Nearest(samples[i], centres);
                sums[c, 0] += samples[i].R; sums[c, 1] += samples[i].G; sums[c, 2] += samples[i].B; sums[c, 3]++;
            }
            for (int c = 0; c < centres.Count; c++)
                if (sums[c, 3] > 0)
                    centres[c] = ((float)(sums[c, 0] / sums[c, 3]), (float)(sums[c, 1] / sums[c, 3]), (float)(sums[c, 2] / sums[c, 3]));
        }
        return [.. centres.Select(c => new[] { ToByte(c.R), ToByte(c.G), ToByte(c.B) })];
    }

    /// <summary>The image with each pixel's RGB replaced by the nearest palette colour; alpha unchanged.</summary>
    public static RgbaImage Snap(RgbaImage image, byte[][] palette)
    {
        ArgumentNullException.ThrowIfNull(image);
        var centres = palette.Select(c => ((float)c[0], (float)c[1], (float)c[2])).ToList();
        var pixels = (byte[])image.Pixels.Clone();
        for (int i = 0; i < pixels.Length; i += 4)
        {
            var c = palette[Nearest((pixels[i], pixels[i + 1], pixels[i + 2]), centres)];
            pixels[i] = c[0]; pixels[i + 1] = c[1]; pixels[i + 2] = c[2];
        }
        return new RgbaImage(image.Width, image.Height, pixels, image.HasAlpha);
    }

    private static int Nearest((float R, float G, float B) p, List<(float R, float G, float B)> centres)
    {
        int best = 0;
        float bestDistance = float.MaxValue;
        for (int c = 0; c < centres.Count; c++)
        {
            float d = Distance(p, centres[c]);
            if (d < bestDistance) (best, bestDistance) = (c, d);
        }
        return best;
    }

    private static float Distance((float R, float G, float B) a, (float R, float G, float B) b) =>
        (a.R - b.R) * (a.R - b.R) + (a.G - b.G) * (a.G - b.G) + (a.B - b.B) * (a.B - b.B);

    private static byte ToByte(float v) => (byte)Math.Clamp(MathF.Round(v), 0, 255);
}
