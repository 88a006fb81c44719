using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Torch.Data;

/// <summary>An 8-bit image with 1 (gray) or 3 (RGB) interleaved channels: the form the reference's PIL transforms work on.</summary>
internal sealed class ByteImage
{
    private static readonly ImagePreprocessing OntoWhite = new() { Alpha = CycleGanEdge.Core.ModelContract.AlphaComposite };

    public ByteImage(int width, int height, int channels, byte[] data)
    {
        if (data.Length != checked(width * height * channels))
            throw new ArgumentException($"Expected {width}x{height}x{channels} bytes, got {data.Length}.", nameof(data));
        Width = width;
        Height = height;
        Channels = channels;
        Data = data;
    }

    /// <summary>byte → [-1, 1]: ToTensor (v / 255) then Normalize(mean 0.5, std 0.5).</summary>
    private static readonly float[] Normalized = [.. Enumerable.Range(0, 256).Select(v => v / 127.5f - 1f)];

    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    public byte[] Data { get; }

    /// <summary>
    /// RGB, or gray with PIL's "L" weights (299/587/114 in 16-bit fixed point) like the reference's Grayscale(1).
    /// Alpha is dropped, as the reference's convert('RGB') does; the checkpoint records that (TrainingPreprocessing) and the
    /// runtime then feeds the model the same pixels. The data command composites onto white instead and writes no alpha.
    /// </summary>
    /// <param name="compositeOnWhite">Blend transparent pixels onto white instead of dropping alpha (the data command),
    /// with the runtime's own compositing, so a model gets at inference exactly the pixels it was trained on.</param>
    public static ByteImage FromRgba(RgbaImage img, int channels, bool compositeOnWhite = false)
    {
        if (compositeOnWhite) img = OntoWhite.Composite(img);
        byte[] src = img.Pixels;
        int n = img.Width * img.Height;
        var dst = new byte[n * channels];
        for (int p = 0; p < n; p++)
        {
            int r = src[4 * p], g = src[4 * p + 1], b = src[4 * p + 2];
            if (channels == 1)
            {
                dst[p] = (byte)((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
            }
            else
            {
                dst[3 * p] = (byte)r;
                dst[3 * p + 1] = (byte)g;
                dst[3 * p + 2] = (byte)b;
            }
        }
        return new ByteImage(img.Width, img.Height, channels, dst);
    }

    /// <summary>The width x height window at (x, y), mirrored left-right when <paramref name="flip"/> is set.</summary>
    public ByteImage Crop(int x, int y, int width, int height, bool flip = false)
    {
        var dst = new byte[width * height * Channels];
        int rowBytes = width * Channels;
        for (int row = 0; row < height; row++)
        {
            var from = Data.AsSpan(((y + row) * Width + x) * Channels, rowBytes);
            var to = dst.AsSpan(row * rowBytes, rowBytes);
            if (!flip)
            {
                from.CopyTo(to);
                continue;
            }
            for (int s = 0, d = rowBytes - Channels; s < rowBytes; s += Channels, d -= Channels)
                for (int c = 0; c < Channels; c++)
                    to[d + c] = from[s + c];
        }
        return new ByteImage(width, height, Channels, dst);
    }

    public ByteImage FlipHorizontal() => Crop(0, 0, Width, Height, flip: true);

    /// <summary>Writes this image as CHW floats in [-1, 1] (ToTensor then Normalize(0.5, 0.5)).</summary>
    public void WriteChw(Span<float> destination)
    {
        int plane = Width * Height;
        for (int c = 0; c < Channels; c++)
        {
            var channel = destination.Slice(c * plane, plane);
            for (int p = 0, i = c; p < plane; p++, i += Channels)
                channel[p] = Normalized[Data[i]];
        }
    }
}
