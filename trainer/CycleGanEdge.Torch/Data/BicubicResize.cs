namespace CycleGanEdge.Torch.Data;

/// <summary>
/// Bicubic resize that reproduces PIL's <c>Image.resize(..., BICUBIC)</c>, which the reference's
/// transforms.Resize uses on PIL images: Keys cubic with a = -0.5, the kernel widened by the scale factor
/// when shrinking (antialiasing), separable passes with 22-bit fixed-point weights and 8-bit rounding between passes.
/// Skia's cubic sampler does not widen the kernel when shrinking, so large photos would alias.
/// </summary>
internal static class BicubicResize
{
    private const int PrecisionBits = 32 - 8 - 2;
    private const double Support = 2.0;

    public static ByteImage Resize(ByteImage src, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        var img = src;
        if (width != img.Width)
            img = Pass(img, width, horizontal: true);
        if (height != img.Height)
            img = Pass(img, height, horizontal: false);
        return img;
    }

    private static double Cubic(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
        if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
        return 0.0;
    }

    /// <summary>For each output index: first input index, tap count, and fixed-point weights (ksize per output).</summary>
    private static (int[] Start, int[] Count, int[] Weights, int KernelSize) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = Support * filterScale;
        int kernelSize = (int)Math.Ceiling(support) * 2 + 1;
        var start = new int[outSize];
        var count = new int[outSize];
        var weights = new int[outSize * kernelSize];
        var k = new double[kernelSize];
        for (int o = 0; o < outSize; o++)
        {
            double center = (o + 0.5) * scale;
            double inverse = 1.0 / filterScale;
            // C casts truncate toward zero, like PIL; negative values are clamped to 0 right after.
            int min = Math.Max((int)(center - support + 0.5), 0);
            int max = Math.Min((int)(center + support + 0.5), inSize) - min;
            double sum = 0;
            for (int i = 0; i < max; i++)
            {
                k[i] = Cubic((i + min - center + 0.5) * inverse);
                sum += k[i];
            }
            for (int i = 0; i < max; i++)
            {
                double w = sum != 0 ? k[i] / sum : k[i];
                weights[o * kernelSize + i] = w < 0
                    ? (int)(-0.5 + w * (1 << PrecisionBits))
                    : (int)(0.5 + w * (1 << PrecisionBits));
            }
            start[o] = min;
            count[o] = max;
        }
        return (start, count, weights, kernelSize);
    }

    private static ByteImage Pass(ByteImage src, int outSize, bool horizontal) =>
        horizontal ? Horizontal(src, outSize) : Vertical(src, outSize);

    private static ByteImage Horizontal(ByteImage src, int width)
    {
        var (start, count, weights, kernelSize) = Coefficients(src.Width, width);
        int channels = src.Channels, height = src.Height;
        var output = new byte[width * height * channels];
        ReadOnlySpan<byte> input = src.Data;
        for (int y = 0; y < height; y++)
        {
            var inRow = input.Slice(y * src.Width * channels, src.Width * channels);
            var outRow = output.AsSpan(y * width * channels, width * channels);
            for (int x = 0; x < width; x++)
            {
                var taps = inRow.Slice(start[x] * channels, count[x] * channels);
                var w = weights.AsSpan(x * kernelSize, count[x]);
                for (int c = 0; c < channels; c++)
                {
                    int acc = 1 << (PrecisionBits - 1);
                    for (int t = 0; t < w.Length; t++)
                        acc += taps[t * channels + c] * w[t];
                    outRow[x * channels + c] = Clip(acc);
                }
            }
        }
        return new ByteImage(width, height, channels, output);
    }

    /// <summary>Row at a time: each output row is a weighted sum of whole input rows (sequential memory access).</summary>
    private static ByteImage Vertical(ByteImage src, int height)
    {
        var (start, count, weights, kernelSize) = Coefficients(src.Height, height);
        int rowLength = src.Width * src.Channels;
        var output = new byte[rowLength * height];
        var acc = new int[rowLength];
        ReadOnlySpan<byte> input = src.Data;
        for (int y = 0; y < height; y++)
        {
            Array.Fill(acc, 1 << (PrecisionBits - 1));
            for (int t = 0; t < count[y]; t++)
            {
                int w = weights[y * kernelSize + t];
                var row = input.Slice((start[y] + t) * rowLength, rowLength);
                for (int i = 0; i < row.Length; i++)
                    acc[i] += row[i] * w;
            }
            var outRow = output.AsSpan(y * rowLength, rowLength);
            for (int i = 0; i < outRow.Length; i++)
                outRow[i] = Clip(acc[i]);
        }
        return new ByteImage(src.Width, height, src.Channels, output);
    }

    private static byte Clip(int acc)
    {
        int v = acc >> PrecisionBits;
        return (byte)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}
