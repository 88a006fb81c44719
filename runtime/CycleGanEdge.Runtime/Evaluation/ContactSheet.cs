using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Evaluation;

/// <summary>Lays images out as a grid picture: one row per example, every cell the same square size.</summary>
public static class ContactSheet
{
    private const int Gap = 4;

    /// <summary>
    /// Each image is scaled (nearest neighbour, so small images stay crisp) to fit a
    /// <paramref name="cellSize"/> square, centred on white; a null cell stays white.
    /// </summary>
    public static RgbaImage Compose(IReadOnlyList<IReadOnlyList<RgbaImage?>> rows, int cellSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cellSize);
        if (rows.Count == 0) throw new ArgumentException("no rows", nameof(rows));
        int columns = rows.Max(r => r.Count);
        if (columns == 0) throw new ArgumentException("no columns", nameof(rows));
        int width = Gap + columns * (cellSize + Gap), height = Gap + rows.Count * (cellSize + Gap);
        var pixels = new byte[checked(width * height * 4)];
        Array.Fill(pixels, (byte)255);
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < rows[r].Count; c++)
                if (rows[r][c] is { } image)
                    Draw(pixels, width, image, Gap + c * (cellSize + Gap), Gap + r * (cellSize + Gap), cellSize);
        return new RgbaImage(width, height, pixels, hasAlpha: false);
    }

    private static void Draw(byte[] dst, int dstWidth, RgbaImage image, int left, int top, int cell)
    {
        double scale = Math.Min((double)cell / image.Width, (double)cell / image.Height);
        int w = Math.Max(1, (int)(image.Width * scale)), h = Math.Max(1, (int)(image.Height * scale));
        int x0 = left + (cell - w) / 2, y0 = top + (cell - h) / 2;
        for (int y = 0; y < h; y++)
        {
            int sy = Math.Min(image.Height - 1, (int)(y / scale));
            for (int x = 0; x < w; x++)
            {
                int sx = Math.Min(image.Width - 1, (int)(x / scale));
                int s = (sy * image.Width + sx) * 4, d = ((y0 + y) * dstWidth + x0 + x) * 4;
                // Composite over white so transparent pixels do not turn black in the picture.
                int a = image.Pixels[s + 3];
                for (int k = 0; k < 3; k++)
                    dst[d + k] = (byte)((image.Pixels[s + k] * a + 255 * (255 - a) + 127) / 255);
                dst[d + 3] = 255;
            }
        }
    }
}
