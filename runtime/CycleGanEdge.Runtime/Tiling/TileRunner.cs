using Microsoft.ML.OnnxRuntime;

namespace CycleGanEdge.Runtime.Tiling;

/// <summary>Where the tiles of one image lie: the padded image they cover, their size, overlap and starts.</summary>
internal sealed class TileGrid
{
    public int ImageWidth, ImageHeight, TiledWidth, TiledHeight, TileWidth, TileHeight, Overlap, Columns, Rows, Multiple;
    public int[] Xs = [], Ys = [];

    /// <summary>
    /// Tiles cover the image padded to the spatial multiple and start on multiples of it, so every tile sees the same
    /// context (including the reflect padding) as the untiled run, and its features line up with the whole image's.
    /// </summary>
    public void Place(int width, int height, int tileSide, int tileOverlap, int multiple)
    {
        Multiple = multiple;
        ImageWidth = width;
        ImageHeight = height;
        TiledWidth = Translator.PaddedSize(width, multiple);
        TiledHeight = Translator.PaddedSize(height, multiple);
        int tile = Translator.PaddedSize(tileSide, multiple);
        TileWidth = Math.Min(TiledWidth, tile);
        TileHeight = Math.Min(TiledHeight, tile);
        Overlap = Math.Min(Translator.RoundUp(tileOverlap, multiple), (tile / 2 - 1) / multiple * multiple);
        Columns = Starts(TiledWidth, TileWidth, Overlap, ref Xs);
        Rows = Starts(TiledHeight, TileHeight, Overlap, ref Ys);
    }

    /// <summary>Tile starts along one side: a step of length - overlap, the last one moved back to end at the edge.</summary>
    internal static int Starts(int total, int length, int overlap, ref int[] starts)
    {
        int step = length - overlap;
        int count = total <= length ? 1 : 1 + (total - length + step - 1) / step;
        if (starts.Length < count) starts = new int[count];
        for (int i = 0; i < count; i++) starts[i] = Math.Min(i * step, total - length);
        return count;
    }

    /// <summary>The part of tile i (in its own coordinates) nearer its middle than its neighbours', on the model's grid.</summary>
    internal static (int From, int To) Owned(int[] starts, int count, int i, int length, int total, int multiple)
    {
        static int Middle(int a, int b, int length, int m) => (a + length + b) / 2 / m * m;
        int from = i == 0 ? 0 : Middle(starts[i - 1], starts[i], length, multiple);
        int to = i == count - 1 ? total : Middle(starts[i], starts[i + 1], length, multiple);
        return (from - starts[i], to - starts[i]);
    }
}

/// <summary>
/// Runs every tile of a <see cref="TileGrid"/> once, row by row, and blends the output with weights that ramp linearly
/// across each overlap, so no seam shows where tiles meet. Memory grows with the tile and the image width, not the image.
/// </summary>
internal sealed class TileRunner
{
    private float[] _bandSum = [];
    private float[] _bandWeight = [];

    /// <param name="useGiven">Instance norms use the frame's given statistics (the rewritten session) instead of the tile's own.</param>
    /// <param name="collect">Called after each tile's run with its owned area, to sum its share of the statistics.</param>
    public void Pass(Action<InferenceSession, ModelFrame> run, InferenceSession session, ModelFrame frame, TileGrid t,
        ReadOnlySpan<byte> src, Span<byte> dst, int bpp, bool useGiven, Action<ModelFrame, double>? collect)
    {
        int width = t.ImageWidth, band = t.TileHeight * width;
        if (_bandWeight.Length != band)
        {
            _bandSum = new float[band * 3];
            _bandWeight = new float[band];
        }
        else
        {
            Array.Clear(_bandSum);
            Array.Clear(_bandWeight);
        }

        for (int row = 0; row < t.Rows; row++)
        {
            int y0 = t.Ys[row];
            var (top, bottom) = TileGrid.Owned(t.Ys, t.Rows, row, t.TileHeight, t.TiledHeight, t.Multiple);
            for (int column = 0; column < t.Columns; column++)
            {
                int x0 = t.Xs[column];
                var (left, right) = TileGrid.Owned(t.Xs, t.Columns, column, t.TileWidth, t.TiledWidth, t.Multiple);
                frame.Fill(0, src, width, t.ImageHeight, bpp, x0, y0);
                // Each pixel of the padded image belongs to the statistics of exactly one tile: the one whose middle it is nearest.
                frame.SetNormRegion(useGiven, top, left, bottom, right);
                run(session, frame);
                collect?.Invoke(frame, (double)(bottom - top) * (right - left));
                frame.Accumulate(_bandSum, _bandWeight, width, t.ImageHeight, t.TiledWidth, t.TiledHeight, x0, y0, t.Overlap, bandTop: y0);
            }
            // Rows above the next row of tiles are final: write them and move the rest of the band up.
            int next = row + 1 < t.Rows ? t.Ys[row + 1] : t.TiledHeight;
            int done = Math.Min(next, t.ImageHeight) - y0;
            for (int i = 0; i < done * width; i++)
            {
                float inv = 1f / _bandWeight[i];
                int d = (y0 * width + i) * bpp;
                dst[d] = Translator.ClampToByte(_bandSum[i * 3] * inv);
                dst[d + 1] = Translator.ClampToByte(_bandSum[i * 3 + 1] * inv);
                dst[d + 2] = Translator.ClampToByte(_bandSum[i * 3 + 2] * inv);
                if (bpp == 4) dst[d + 3] = src[d + 3];
            }
            int shift = (next - y0) * width, keep = band - shift;
            Array.Copy(_bandSum, shift * 3, _bandSum, 0, keep * 3);
            Array.Clear(_bandSum, keep * 3, shift * 3);
            Array.Copy(_bandWeight, shift, _bandWeight, 0, keep);
            Array.Clear(_bandWeight, keep, shift);
        }
    }
}
