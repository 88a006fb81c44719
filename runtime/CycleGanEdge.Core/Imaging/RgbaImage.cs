namespace CycleGanEdge.Core.Imaging;

/// <summary>An 8-bit RGBA image, rows top to bottom, pixels interleaved R,G,B,A (not premultiplied).</summary>
public sealed class RgbaImage
{
    public RgbaImage(int width, int height, byte[] pixels, bool hasAlpha)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (pixels.Length != checked(width * height * 4))
            throw new ArgumentException($"Expected {width}x{height}x4 bytes, got {pixels.Length}.", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
        HasAlpha = hasAlpha;
    }

    /// <summary>A new opaque (alpha 255) image.</summary>
    public RgbaImage(int width, int height) : this(width, height, OpaqueBlack(width, height), hasAlpha: false) { }

    public int Width { get; }
    public int Height { get; }
    public byte[] Pixels { get; }
    /// <summary>False when the source had no alpha channel (every alpha byte is 255).</summary>
    public bool HasAlpha { get; }

    private static byte[] OpaqueBlack(int width, int height)
    {
        var pixels = new byte[checked(width * height * 4)];
        for (int i = 3; i < pixels.Length; i += 4) pixels[i] = 255;
        return pixels;
    }
}
