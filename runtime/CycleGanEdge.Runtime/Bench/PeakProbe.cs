using System.Diagnostics;
using System.Text;
using Microsoft.ML.OnnxRuntime;

namespace CycleGanEdge.Runtime.Bench;

/// <summary>
/// The machine's practical peak for this ONNX Runtime build and provider: the GFLOP/s of one large
/// square float32 MatMul (the GEMM that convolutions become), run like the model benchmark, with the
/// model's provider and thread count. Kept open so a comparison can probe between the models' rounds:
/// under a load that comes and goes, a peak measured at another moment than the model says little.
/// </summary>
public sealed class PeakProbe : IDisposable
{
    public const int DefaultSide = 1024;

    private readonly int _side;
    private readonly InferenceSession _session;
    private readonly OrtValue _a, _b, _c;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _run = new();

    private PeakProbe(TranslatorOptions options, int side)
    {
        _side = side;
        string path = Path.Combine(Path.GetTempPath(), $"cyclegan-peak-{side}-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, MatMulModel(side));
        try
        {
            _session = SessionFactory.Create(path, options, out _);
        }
        finally
        {
            File.Delete(path);
        }
        var a = new float[side * side];
        var b = new float[side * side];
        var random = new Random(1);
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = (float)random.NextDouble() - 0.5f;
            b[i] = (float)random.NextDouble() - 0.5f;
        }
        long[] shape = [side, side];
        _a = OrtValue.CreateTensorValueFromMemory(a, shape);
        _b = OrtValue.CreateTensorValueFromMemory(b, shape);
        _c = OrtValue.CreateTensorValueFromMemory(new float[side * side], shape);
        _binding = _session.CreateIoBinding();
        _binding.BindInput("A", _a);
        _binding.BindInput("B", _b);
        _binding.BindOutput("C", _c);
    }

    public static PeakProbe Open(TranslatorOptions options, int side = DefaultSide) => new(options, side);

    /// <summary>Median GFLOP/s of an n×n·n×n MatMul (2n³ flops per run).</summary>
    public double Measure(int iterations = 10, int warmup = 2)
    {
        var seconds = new double[iterations];
        for (int i = 0; i < warmup + iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _session.RunWithBinding(_run, _binding);
            if (i >= warmup) seconds[i - warmup] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(seconds);
        return 2.0 * _side * _side * _side / seconds[iterations / 2] / 1e9;
    }

    /// <summary>Opens, measures once and closes.</summary>
    public static double MeasureGflops(TranslatorOptions options, int side = DefaultSide, int iterations = 10, int warmup = 2)
    {
        using var probe = Open(options, side);
        return probe.Measure(iterations, warmup);
    }

    public void Dispose()
    {
        _binding.Dispose();
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
        _run.Dispose();
        _session.Dispose();
    }

    /// <summary>
    /// ONNX bytes of C = MatMul(A, B) with float inputs [n, n], written field by field (protobuf wire
    /// format, field numbers from onnx.proto) so the runtime needs no protobuf package.
    /// </summary>
    public static byte[] MatMulModel(int n)
    {
        var node = new Proto().Text(1, "A").Text(1, "B").Text(2, "C").Text(3, "matmul").Text(4, "MatMul");
        var graph = new Proto()
            .Message(1, node)
            .Text(2, "peak_probe")
            .Message(11, SquareFloat("A", n))
            .Message(11, SquareFloat("B", n))
            .Message(12, SquareFloat("C", n));
        return new Proto()
            .Varint(1, 8)                                           // ir_version
            .Text(2, "cyclegan-run bench")                          // producer_name
            .Message(7, graph)
            .Message(8, new Proto().Text(1, "").Varint(2, 17))      // opset_import: default domain, opset 17
            .ToArray();
    }

    /// <summary>ValueInfoProto of a float32 [n, n] tensor.</summary>
    private static Proto SquareFloat(string name, int n)
    {
        var shape = new Proto()
            .Message(1, new Proto().Varint(1, n))
            .Message(1, new Proto().Varint(1, n));
        var tensorType = new Proto().Varint(1, 1 /* FLOAT */).Message(2, shape);
        return new Proto().Text(1, name).Message(2, new Proto().Message(1, tensorType));
    }

    /// <summary>Just enough of the protobuf wire format: varint (type 0) and length-delimited (type 2) fields.</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _bytes = new();

        public Proto Varint(int field, long value)
        {
            WriteVarint((ulong)field << 3);
            WriteVarint((ulong)value);
            return this;
        }

        public Proto Text(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _bytes.ToArray();

        private Proto Bytes(int field, byte[] value)
        {
            WriteVarint(((ulong)field << 3) | 2);
            WriteVarint((ulong)value.Length);
            _bytes.Write(value);
            return this;
        }

        private void WriteVarint(ulong v)
        {
            while (v >= 0x80)
            {
                _bytes.WriteByte((byte)(v | 0x80));
                v >>= 7;
            }
            _bytes.WriteByte((byte)v);
        }
    }
}
