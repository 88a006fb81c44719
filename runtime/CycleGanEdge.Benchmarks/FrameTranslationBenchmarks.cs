using BenchmarkDotNet.Attributes;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CycleGanEdge.Benchmarks;

/// <summary>
/// The translator's frame API (bound, reused buffers and OrtValues) against the obvious per-call path
/// (new tensors, session.Run returning fresh outputs, new byte array). Same model, same 256x256 RGB frame.
/// The model is an exported float32-nchw generator named by CYCLEGAN_BENCH_MODEL.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class FrameTranslationBenchmarks
{
    private const int Side = 256;
    private Translator _translator = null!;
    private InferenceSession _session = null!;
    private byte[] _frame = null!, _result = null!;

    [GlobalSetup]
    public void Setup()
    {
        string model = Environment.GetEnvironmentVariable("CYCLEGAN_BENCH_MODEL")
            ?? throw new InvalidOperationException("set CYCLEGAN_BENCH_MODEL to an exported float32-nchw generator (.onnx)");
        var options = new TranslatorOptions { Provider = "cpu" };
        _translator = Translator.Open(model, options);
        _session = SessionFactory.Create(model, options, out _);
        _frame = new byte[Side * Side * 3];
        new Random(1).NextBytes(_frame);
        _result = new byte[_frame.Length];
    }

    [Benchmark(Baseline = true)]
    public byte[] PerCallAllocating()
    {
        var input = new DenseTensor<float>([1, 3, Side, Side]);
        for (int i = 0; i < Side * Side; i++)
            for (int c = 0; c < 3; c++)
                input[0, c, i / Side, i % Side] = _frame[i * 3 + c] / 127.5f - 1f;
        using var outputs = _session.Run([NamedOnnxValue.CreateFromTensor(ModelContract.InputName, input)]);
        var output = outputs[0].AsTensor<float>();
        var result = new byte[_frame.Length];
        for (int i = 0; i < Side * Side; i++)
            for (int c = 0; c < 3; c++)
                result[i * 3 + c] = (byte)Math.Clamp((output[0, c, i / Side, i % Side] + 1f) * 127.5f + 0.5f, 0f, 255f);
        return result;
    }

    [Benchmark]
    public byte[] FrameApi()
    {
        _translator.Translate(_frame, _result, Side, Side, PixelLayout.Rgb24);
        return _result;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _translator.Dispose();
        _session.Dispose();
    }
}
