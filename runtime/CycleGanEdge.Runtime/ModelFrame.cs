using Microsoft.ML.OnnxRuntime;
using CycleGanEdge.Core;

namespace CycleGanEdge.Runtime;

/// <summary>
/// Input and output buffers for one (batch, height, width), wrapped once in OrtValues and bound to the
/// session, so a run is a single native call with no managed allocation. Converts pixels in and out:
/// float32-nchw models see [-1,1] planes; uint8-nhwc models get the bytes as they are.
/// </summary>
internal sealed class ModelFrame : IDisposable
{
    private const float ToUnit = 1f / 127.5f;

    private readonly ModelInfo _model;
    private readonly float[] _inFloat = [], _outFloat = [];
    private readonly byte[] _inBytes = [], _outBytes = [];
    private readonly OrtValue _input, _output;
    private readonly List<OrtValue> _normValues = [];
    private readonly bool[] _useGiven = [false];
    private readonly long[] _region = new long[4];

    /// <summary>
    /// With <paramref name="normChannels"/> the session runs a graph from <see cref="InstanceNormRewrite"/> (batch 1):
    /// its statistics inputs and outputs are bound to <see cref="GivenMean"/>, <see cref="GivenVariance"/>,
    /// <see cref="RegionMean"/> and <see cref="RegionVariance"/>, one array per layer.
    /// </summary>
    public ModelFrame(InferenceSession session, ModelInfo model, int batch, int contentWidth, int contentHeight, int[]? normChannels = null)
    {
        _model = model;
        Batch = batch;
        ContentWidth = contentWidth;
        ContentHeight = contentHeight;
        PaddedWidth = Translator.PaddedSize(contentWidth, model.Descriptor.SpatialMultiple);
        PaddedHeight = Translator.PaddedSize(contentHeight, model.Descriptor.SpatialMultiple);

        int plane = PaddedWidth * PaddedHeight;
        if (model.IsUint8)
        {
            _inBytes = new byte[batch * plane * model.Descriptor.ChannelsIn];
            _outBytes = new byte[batch * plane * model.Descriptor.ChannelsOut];
            _input = OrtValue.CreateTensorValueFromMemory(_inBytes, [batch, PaddedHeight, PaddedWidth, model.Descriptor.ChannelsIn]);
            _output = OrtValue.CreateTensorValueFromMemory(_outBytes, [batch, PaddedHeight, PaddedWidth, model.Descriptor.ChannelsOut]);
        }
        else
        {
            _inFloat = new float[batch * plane * model.Descriptor.ChannelsIn];
            _outFloat = new float[batch * plane * model.Descriptor.ChannelsOut];
            _input = OrtValue.CreateTensorValueFromMemory(_inFloat, [batch, model.Descriptor.ChannelsIn, PaddedHeight, PaddedWidth]);
            _output = OrtValue.CreateTensorValueFromMemory(_outFloat, [batch, model.Descriptor.ChannelsOut, PaddedHeight, PaddedWidth]);
        }
        Binding = session.CreateIoBinding();
        Binding.BindInput(ModelContract.InputName, _input);
        Binding.BindOutput(ModelContract.OutputName, _output);

        normChannels ??= [];
        GivenMean = new float[normChannels.Length][];
        GivenVariance = new float[normChannels.Length][];
        RegionMean = new float[normChannels.Length][];
        RegionVariance = new float[normChannels.Length][];
        if (normChannels.Length == 0) return;
        Bind(InstanceNormRewrite.UseGivenInput, _useGiven, [1], output: false);
        Bind(InstanceNormRewrite.RegionInput, _region, [4], output: false);
        for (int k = 0; k < normChannels.Length; k++)
        {
            long[] shape = [1, normChannels[k], 1, 1];
            Bind(InstanceNormRewrite.MeanInput(k), GivenMean[k] = new float[normChannels[k]], shape, output: false);
            Bind(InstanceNormRewrite.VarianceInput(k), GivenVariance[k] = new float[normChannels[k]], shape, output: false);
            Bind(InstanceNormRewrite.RegionMeanOutput(k), RegionMean[k] = new float[normChannels[k]], shape, output: true);
            Bind(InstanceNormRewrite.RegionVarianceOutput(k), RegionVariance[k] = new float[normChannels[k]], shape, output: true);
        }
    }

    private void Bind<T>(string name, T[] buffer, long[] shape, bool output) where T : unmanaged
    {
        var value = OrtValue.CreateTensorValueFromMemory(buffer, shape);
        _normValues.Add(value);
        if (output) Binding.BindOutput(name, value);
        else Binding.BindInput(name, value);
    }

    public float[][] GivenMean { get; }
    public float[][] GivenVariance { get; }
    public float[][] RegionMean { get; }
    public float[][] RegionVariance { get; }

    /// <summary>
    /// Next run normalises with <see cref="GivenMean"/>/<see cref="GivenVariance"/> (or, if not <paramref name="useGiven"/>,
    /// with the region's own statistics) and measures the statistics of each layer inside rows top..bottom-1,
    /// columns left..right-1 of the padded frame.
    /// </summary>
    public void SetNormRegion(bool useGiven, int top, int left, int bottom, int right)
    {
        _useGiven[0] = useGiven;
        _region[0] = top;
        _region[1] = left;
        _region[2] = bottom;
        _region[3] = right;
    }

    public int Batch { get; }
    public int ContentWidth { get; }
    public int ContentHeight { get; }
    public int PaddedWidth { get; }
    public int PaddedHeight { get; }
    public OrtIoBinding Binding { get; }

    /// <summary>
    /// Copies the PaddedWidth x PaddedHeight region at (x0, y0) of an image into batch slot <paramref name="b"/>;
    /// coordinates past the image's right or bottom edge reflect back into it (reflect padding).
    /// </summary>
    public void Fill(int b, ReadOnlySpan<byte> image, int imageWidth, int imageHeight, int bpp, int x0, int y0)
    {
        int pw = PaddedWidth, ph = PaddedHeight, plane = pw * ph;
        bool grey = _model.Descriptor.ChannelsIn == 1;
        if (_model.IsUint8)
        {
            int cin = _model.Descriptor.ChannelsIn;
            var input = _inBytes.AsSpan(b * plane * cin, plane * cin);
            for (int py = 0; py < ph; py++)
            {
                int rowStart = Reflect(y0 + py, imageHeight) * imageWidth * bpp;
                int o = py * pw * cin;
                for (int px = 0; px < pw; px++, o += cin)
                {
                    int s = rowStart + Reflect(x0 + px, imageWidth) * bpp;
                    if (grey) input[o] = Luma(image[s], image[s + 1], image[s + 2]);
                    else { input[o] = image[s]; input[o + 1] = image[s + 1]; input[o + 2] = image[s + 2]; }
                }
            }
            return;
        }

        var f = _inFloat.AsSpan(b * plane * _model.Descriptor.ChannelsIn, plane * _model.Descriptor.ChannelsIn);
        int inside = Math.Min(pw, imageWidth - x0); // columns that need no reflection
        for (int py = 0; py < ph; py++)
        {
            var row = image.Slice(Reflect(y0 + py, imageHeight) * imageWidth * bpp, imageWidth * bpp);
            if (grey)
            {
                var lum = f.Slice(py * pw, pw);
                for (int px = 0; px < pw; px++)
                {
                    int s = Reflect(x0 + px, imageWidth) * bpp;
                    lum[px] = Luma(row[s], row[s + 1], row[s + 2]) * ToUnit - 1f;
                }
                continue;
            }
            // The hot loop of float models: one pass per row into the three planes.
            var r = f.Slice(py * pw, pw);
            var g = f.Slice(plane + py * pw, pw);
            var bl = f.Slice(2 * plane + py * pw, pw);
            int si = x0 * bpp;
            for (int px = 0; px < inside; px++, si += bpp)
            {
                r[px] = row[si] * ToUnit - 1f;
                g[px] = row[si + 1] * ToUnit - 1f;
                bl[px] = row[si + 2] * ToUnit - 1f;
            }
            for (int px = inside; px < pw; px++)
            {
                int s = Reflect(x0 + px, imageWidth) * bpp;
                r[px] = row[s] * ToUnit - 1f;
                g[px] = row[s + 1] * ToUnit - 1f;
                bl[px] = row[s + 2] * ToUnit - 1f;
            }
        }
    }

    /// <summary>Writes batch slot <paramref name="b"/>'s output, cropped, at (x0, y0) of <paramref name="dst"/>; alpha comes from <paramref name="src"/>.</summary>
    public void Write(int b, ReadOnlySpan<byte> src, Span<byte> dst, int imageWidth, int bpp, int x0, int y0)
    {
        if (!_model.IsUint8 && _model.Descriptor.ChannelsOut == 3)
        {
            WriteFloatRgb(b, src, dst, imageWidth, bpp, x0, y0);
            return;
        }
        for (int py = 0; py < ContentHeight; py++)
        {
            int d = ((y0 + py) * imageWidth + x0) * bpp;
            for (int px = 0; px < ContentWidth; px++, d += bpp)
            {
                OutputPixel(b, px, py, out float r, out float g, out float bl);
                dst[d] = Translator.ClampToByte(r);
                dst[d + 1] = Translator.ClampToByte(g);
                dst[d + 2] = Translator.ClampToByte(bl);
                if (bpp == 4) dst[d + 3] = src[d + 3];
            }
        }
    }

    private void WriteFloatRgb(int b, ReadOnlySpan<byte> src, Span<byte> dst, int imageWidth, int bpp, int x0, int y0)
    {
        int pw = PaddedWidth, plane = pw * PaddedHeight, w = ContentWidth;
        var planes = _outFloat.AsSpan(b * plane * 3, plane * 3);
        for (int py = 0; py < ContentHeight; py++)
        {
            var r = planes.Slice(py * pw, w);
            var g = planes.Slice(plane + py * pw, w);
            var bl = planes.Slice(2 * plane + py * pw, w);
            int rowStart = ((y0 + py) * imageWidth + x0) * bpp;
            var row = dst.Slice(rowStart, w * bpp);
            var alpha = src.Slice(rowStart, w * bpp);
            for (int px = 0, d = 0; px < w; px++, d += bpp)
            {
                row[d] = Translator.ClampToByte((r[px] + 1f) * 127.5f);
                row[d + 1] = Translator.ClampToByte((g[px] + 1f) * 127.5f);
                row[d + 2] = Translator.ClampToByte((bl[px] + 1f) * 127.5f);
                if (bpp == 4) row[d + 3] = alpha[d + 3];
            }
        }
    }

    /// <summary>
    /// Adds slot 0's output, weighted by a linear ramp across each overlap with a neighbouring tile.
    /// Tiles are laid over the image padded to the spatial multiple (<paramref name="tiledWidth"/> x <paramref name="tiledHeight"/>);
    /// only pixels inside the image are kept. The buffers hold image rows from <paramref name="bandTop"/> on.
    /// </summary>
    public void Accumulate(float[] sum, float[] weight, int imageWidth, int imageHeight, int tiledWidth, int tiledHeight, int x0, int y0, int overlap, int bandTop)
    {
        bool left = x0 > 0, top = y0 > 0;
        bool right = x0 + ContentWidth < tiledWidth, bottom = y0 + ContentHeight < tiledHeight;
        int rows = Math.Min(ContentHeight, imageHeight - y0), columns = Math.Min(ContentWidth, imageWidth - x0);
        for (int py = 0; py < rows; py++)
        {
            float wy = Ramp(py, ContentHeight, overlap, top, bottom);
            int i = (y0 + py - bandTop) * imageWidth + x0;
            for (int px = 0; px < columns; px++, i++)
            {
                float w = wy * Ramp(px, ContentWidth, overlap, left, right);
                OutputPixel(0, px, py, out float r, out float g, out float bl);
                sum[i * 3] += r * w;
                sum[i * 3 + 1] += g * w;
                sum[i * 3 + 2] += bl * w;
                weight[i] += w;
            }
        }
    }

    /// <summary>
    /// Weight in [0, 1] at index i of a tile side of <paramref name="length"/>. Where a neighbour overlaps,
    /// the outer third of the overlap is context only (weight 0: those pixels saw the tile's zero padding),
    /// the middle third ramps linearly, so two tiles' weights add up to 1 across the overlap.
    /// </summary>
    private static float Ramp(int i, int length, int overlap, bool before, bool after)
    {
        int margin = overlap / 3, ramp = overlap - 2 * margin;
        float w = 1f;
        if (before) w = Math.Min(w, Math.Clamp((i - margin + 1f) / (ramp + 1f), 0f, 1f));
        if (after) w = Math.Min(w, Math.Clamp((length - i - margin) / (ramp + 1f), 0f, 1f));
        return w;
    }

    /// <summary>Output pixel of batch slot b in 0..255 (not yet rounded).</summary>
    private void OutputPixel(int b, int px, int py, out float r, out float g, out float bl)
    {
        int plane = PaddedWidth * PaddedHeight, cout = _model.Descriptor.ChannelsOut;
        if (_model.IsUint8)
        {
            int o = b * plane * cout + (py * PaddedWidth + px) * cout;
            r = _outBytes[o];
            g = cout == 1 ? r : _outBytes[o + 1];
            bl = cout == 1 ? r : _outBytes[o + 2];
            return;
        }
        int f = b * plane * cout + py * PaddedWidth + px;
        r = (_outFloat[f] + 1f) * 127.5f;
        g = cout == 1 ? r : (_outFloat[f + plane] + 1f) * 127.5f;
        bl = cout == 1 ? r : (_outFloat[f + 2 * plane] + 1f) * 127.5f;
    }

    /// <summary>ITU-R BT.601 luma, the usual RGB-to-grey conversion.</summary>
    private static byte Luma(byte r, byte g, byte b) => (byte)((77 * r + 150 * g + 29 * b + 128) >> 8);

    /// <summary>Mirror index i into 0..n-1 without repeating the edge pixel (like reflect padding).</summary>
    internal static int Reflect(int i, int n)
    {
        if (i < n) return i;
        if (n == 1) return 0;
        int period = 2 * (n - 1);
        i %= period;
        return i < n ? i : period - i;
    }

    public void Dispose()
    {
        Binding.Dispose();
        foreach (var v in _normValues) v.Dispose();
        _input.Dispose();
        _output.Dispose();
    }
}
