using Microsoft.ML.OnnxRuntime;

namespace CycleGanEdge.Runtime.Tiling;

/// <summary>
/// Whole-image instance-norm statistics for tiles (docs/onnx-contract.md, "Tiles with whole-image statistics"): a second
/// session on the instance-norm rewrite of the model, a thumbnail's statistics as the start, and the area-weighted
/// combination of every tile's share of the image, pass after pass.
/// </summary>
internal sealed class TileStatistics : IDisposable
{
    private readonly ModelInfo _model;
    private readonly int[] _channels;
    private readonly double[][] _sumMean, _sumSquare;
    private ModelFrame? _tileFrame, _thumbFrame;
    private byte[] _thumb = [];

    private TileStatistics(InferenceSession session, ModelInfo model, int[] channels)
    {
        Session = session;
        _model = model;
        _channels = channels;
        _sumMean = [.. channels.Select(c => new double[c])];
        _sumSquare = [.. channels.Select(c => new double[c])];
        Collect = Add;
    }

    /// <summary><see cref="Add(ModelFrame, double)"/> as the runner's callback, made once so passes allocate nothing.</summary>
    public Action<ModelFrame, double> Collect { get; }

    /// <summary>Largest change of a layer's mean or standard deviation between passes, relative to the standard deviation, that ends refinement.</summary>
    internal const double Tolerance = 0.01;

    /// <summary>The session on the rewritten graph, whose instance norms take given statistics and report their region's.</summary>
    public InferenceSession Session { get; }

    /// <summary>Opens the rewritten session; null for a model without instance norms (its tiles need no statistics).</summary>
    public static TileStatistics? Open(ModelInfo model, TranslatorOptions options)
    {
        byte[] original = File.ReadAllBytes(model.Path);
        if (InstanceNormRewrite.CountLayers(original) == 0) return null;
        var (rewritten, channels) = InstanceNormRewrite.Rewrite(original, model.Path);
        return new TileStatistics(SessionFactory.Create(model.Path, options, out _, rewritten), model, channels);
    }

    /// <summary>The frame of the rewritten session for tiles of this size (kept while the size stays).</summary>
    public ModelFrame TileFrame(int width, int height) => Frame(ref _tileFrame, width, height);

    /// <summary>Sets the frame's given statistics to those of a thumbnail of the image no larger than one tile (Thumbnail Instance Normalization).</summary>
    public void FromThumbnail(Action<InferenceSession, ModelFrame> run, ReadOnlySpan<byte> src, int width, int height, int bpp, int tile, ModelFrame tileFrame)
    {
        double scale = Math.Min(1.0, (double)tile / Math.Max(width, height));
        int tw = Math.Max(1, (int)(width * scale)), th = Math.Max(1, (int)(height * scale));
        if (_thumb.Length != tw * th * bpp) _thumb = new byte[tw * th * bpp];
        BoxDownscale(src, width, height, bpp, _thumb, tw, th);
        var thumb = Frame(ref _thumbFrame, tw, th);
        thumb.Fill(0, _thumb, tw, th, bpp, 0, 0);
        thumb.SetNormRegion(false, 0, 0, thumb.PaddedHeight, thumb.PaddedWidth);
        run(Session, thumb);
        for (int k = 0; k < thumb.RegionMean.Length; k++)
        {
            thumb.RegionMean[k].CopyTo(tileFrame.GivenMean[k], 0);
            thumb.RegionVariance[k].CopyTo(tileFrame.GivenVariance[k], 0);
        }
    }

    /// <summary>Starts a new sum over the tiles of one pass.</summary>
    public void Clear()
    {
        for (int k = 0; k < _sumMean.Length; k++)
        {
            Array.Clear(_sumMean[k]);
            Array.Clear(_sumSquare[k]);
        }
    }

    /// <summary>Adds one region's statistics (the frame's last run), weighted by its area.</summary>
    public void Add(ModelFrame frame, double area) => Add(frame.RegionMean, frame.RegionVariance, area);

    internal void Add(float[][] regionMean, float[][] regionVariance, double area)
    {
        for (int k = 0; k < regionMean.Length; k++)
        {
            float[] mean = regionMean[k], variance = regionVariance[k];
            for (int c = 0; c < mean.Length; c++)
            {
                _sumMean[k][c] += area * mean[c];
                _sumSquare[k][c] += area * (variance[c] + (double)mean[c] * mean[c]);
            }
        }
    }

    /// <summary>Makes the summed statistics over <paramref name="area"/> the given ones; returns the largest change relative to the standard deviation.</summary>
    public double TakeImageStatistics(float[][] givenMean, float[][] givenVariance, double area)
    {
        double change = 0;
        for (int k = 0; k < _sumMean.Length; k++)
            for (int c = 0; c < _sumMean[k].Length; c++)
            {
                double mean = _sumMean[k][c] / area;
                double variance = Math.Max(0, _sumSquare[k][c] / area - mean * mean);
                double std = Math.Sqrt(variance + 1e-5), oldStd = Math.Sqrt(givenVariance[k][c] + 1e-5);
                change = Math.Max(change, Math.Max(Math.Abs(mean - givenMean[k][c]), Math.Abs(std - oldStd)) / std);
                givenMean[k][c] = (float)mean;
                givenVariance[k][c] = (float)variance;
            }
        return change;
    }

    /// <summary>Averages the source pixels under each thumbnail pixel (area averaging: no aliasing into the statistics).</summary>
    internal static void BoxDownscale(ReadOnlySpan<byte> src, int width, int height, int bpp, Span<byte> dst, int tw, int th)
    {
        for (int ty = 0; ty < th; ty++)
        {
            int y0 = (int)((long)ty * height / th), y1 = Math.Max(y0 + 1, (int)((long)(ty + 1) * height / th));
            for (int tx = 0; tx < tw; tx++)
            {
                int x0 = (int)((long)tx * width / tw), x1 = Math.Max(x0 + 1, (int)((long)(tx + 1) * width / tw));
                int r = 0, g = 0, b = 0;
                for (int y = y0; y < y1; y++)
                    for (int x = x0, s = (y * width + x0) * bpp; x < x1; x++, s += bpp)
                    {
                        r += src[s];
                        g += src[s + 1];
                        b += src[s + 2];
                    }
                int n = (y1 - y0) * (x1 - x0), d = (ty * tw + tx) * bpp;
                dst[d] = (byte)((r + n / 2) / n);
                dst[d + 1] = (byte)((g + n / 2) / n);
                dst[d + 2] = (byte)((b + n / 2) / n);
                if (bpp == 4) dst[d + 3] = 255;
            }
        }
    }

    private ModelFrame Frame(ref ModelFrame? frame, int width, int height)
    {
        if (frame is { } f && f.ContentWidth == width && f.ContentHeight == height) return f;
        frame?.Dispose();
        frame = null;
        return frame = new ModelFrame(Session, _model, 1, width, height, _channels);
    }

    public void Dispose()
    {
        _tileFrame?.Dispose();
        _thumbFrame?.Dispose();
        Session.Dispose();
    }
}
