using System.Diagnostics;
using CycleGanEdge.Runtime.Onnx;
using Google.Protobuf;
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

    /// <summary>ONNX bytes of C = MatMul(A, B) with float inputs [n, n].</summary>
    public static byte[] MatMulModel(int n)
    {
        var node = new NodeProto { OpType = "MatMul", Name = "matmul" };
        node.Input.Add("A");
        node.Input.Add("B");
        node.Output.Add("C");
        var graph = new GraphProto { Name = "peak_probe" };
        graph.Node.Add(node);
        graph.Input.Add(SquareFloat("A", n));
        graph.Input.Add(SquareFloat("B", n));
        graph.Output.Add(SquareFloat("C", n));
        var model = new ModelProto { IrVersion = 8, ProducerName = "cyclegan-run bench", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model.ToByteArray();
    }

    /// <summary>ValueInfoProto of a float32 [n, n] tensor.</summary>
    private static ValueInfoProto SquareFloat(string name, int n)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = n });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = n });
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape };
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }
}
