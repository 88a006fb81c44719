using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Torch.Tests.Data;

/// <summary>Small generated PNGs.</summary>
internal static class TestImages
{
    /// <summary>An opaque image whose every pixel depends on (x, y, seed), so images are distinguishable.</summary>
    public static RgbaImage Pattern(int width, int height, int seed)
    {
        var px = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = 4 * (y * width + x);
                px[i] = (byte)(x * 255 / Math.Max(1, width - 1));
                px[i + 1] = (byte)(y * 255 / Math.Max(1, height - 1));
                px[i + 2] = (byte)(seed * 37 % 256);
                px[i + 3] = 255;
            }
        return new RgbaImage(width, height, px, hasAlpha: false);
    }

    public static RgbaImage Solid(int width, int height, byte r, byte g, byte b, byte a = 255)
    {
        var px = new byte[width * height * 4];
        for (int i = 0; i < px.Length; i += 4)
        {
            px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = a;
        }
        return new RgbaImage(width, height, px, hasAlpha: a != 255);
    }

    public static string Write(string path, RgbaImage img)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, ImageCodec.Encode(img, ImageFormat.Png));
        return path;
    }

    /// <summary>count distinct pattern images named 000.png, 001.png, ... in folder.</summary>
    public static void WriteMany(string folder, int count, int width, int height, int seedOffset = 0)
    {
        for (int i = 0; i < count; i++)
            Write(System.IO.Path.Combine(folder, $"{i:000}.png"), Pattern(width, height, i + seedOffset));
    }
}
