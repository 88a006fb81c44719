using System.Globalization;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using CycleGanEdge.Torch.Networks;
using CycleGanEdge.Torch.Training;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace CycleGanEdge.Exporter;

/// <summary>Differences between ONNX Runtime and TorchSharp on one random input.</summary>
public sealed record ParitySample(int Batch, int Height, int Width, double MaxAbsDiff, double MeanAbsDiff);

/// <summary>
/// The parity check's result. Differences are in output units: [-1, 1] values for float32 I/O, 0-255 levels
/// for uint8 I/O (against the TorchSharp output quantized the same way as the graph does).
/// </summary>
public sealed record ParityReport(IReadOnlyList<ParitySample> Samples, double MaxBound, double MeanBound, string Unit)
{
    public bool Passed => Samples.All(s => s.MaxAbsDiff <= MaxBound && s.MeanAbsDiff <= MeanBound);

    public IEnumerable<string> Lines() => Samples.Select(s => string.Create(CultureInfo.InvariantCulture,
        $"parity {s.Batch}x{s.Height}x{s.Width}: max |diff| {s.MaxAbsDiff:G3}, mean |diff| {s.MeanAbsDiff:G3} {Unit} (bound: max {MaxBound:G3}, mean {MeanBound:G3})"));
}

/// <summary>
/// Bounds of the parity check, and the check itself.
/// float32: 1e-4 (only summation order differs).
/// fp16: weights rounded to half and activations stored in half between layers; measured on ngf 8 test models
/// at up to ~1e-2 max, so the bound is 3e-2 max and 3e-3 mean (in [-1, 1] units, about 4 and 0.4 levels of 255).
/// uint8: the TorchSharp output quantized like the graph (round half to even, clip); a difference of 1 level is
/// allowed where float32 noise crosses a rounding boundary (plus the fp16 bound in levels for an fp16 model).
/// </summary>
internal static class Parity
{
    public const double Float32MaxBound = 1e-4;
    public const double Float32MeanBound = 1e-5;
    public const double Fp16MaxBound = 3e-2;
    public const double Fp16MeanBound = 3e-3;
    private const int Seed = 20261123;

    public static ParityReport Check(nn.Module<Tensor, Tensor> generator, GeneratorOptions arch, byte[] onnx, ExportOptions options)
    {
        bool uint8 = options.Io == ModelContract.IoUint8Nhwc;
        double maxBound = options.Fp16 ? Fp16MaxBound : Float32MaxBound;
        double meanBound = options.Fp16 ? Fp16MeanBound : Float32MeanBound;
        if (uint8)
        {
            maxBound = 1 + Math.Ceiling(options.Fp16 ? Fp16MaxBound * 127.5 : 0);
            meanBound = options.Fp16 ? Fp16MeanBound * 127.5 + 0.05 : 0.05;
        }

        TorchSetup.ConfigureCpu(oneDnn: true); // as in training (forward passes are right with oneDNN); also stops libtorch printing an NNPACK warning per convolution
        generator.eval();
        using var noGrad = no_grad();
        using var session = SessionFactory.CreateInMemory(onnx, "the exported model");
        using var random = new Generator(Seed);
        var samples = new List<ParitySample>();
        foreach (var (batch, height, width) in Sizes(NetworkFactory.SpatialMultiple(arch)))
        {
            using var scope = NewDisposeScope();
            Tensor reference, actual;
            if (uint8)
            {
                Tensor pixels = randint(0, 256, [batch, height, width, arch.InputNc], dtype: ScalarType.Byte, generator: random);
                Tensor y = generator.forward(pixels.permute(0, 3, 1, 2).to(float32) / 127.5 - 1);
                reference = ((y + 1) * 127.5).round().clamp(0, 255).permute(0, 2, 3, 1);
                actual = RunOrt<byte>(session, pixels.contiguous().data<byte>().ToArray(), pixels.shape).to(float32);
            }
            else
            {
                Tensor x = rand([batch, arch.InputNc, height, width], generator: random) * 2 - 1;
                reference = generator.forward(x);
                actual = RunOrt<float>(session, x.contiguous().data<float>().ToArray(), x.shape);
            }
            if (!actual.shape.SequenceEqual(reference.shape))
                throw new ExportException(
                    $"parity: ONNX output shape [{string.Join(", ", actual.shape)}] differs from TorchSharp's [{string.Join(", ", reference.shape)}]");
            Tensor diff = (actual - reference.to(float32)).abs();
            samples.Add(new ParitySample(batch, height, width, diff.max().item<float>(), diff.mean().item<float>()));
        }
        return new ParityReport(samples, maxBound, meanBound, uint8 ? "levels" : "(values in [-1, 1])");
    }

    /// <summary>A square batch of two and a non-square single image, both multiples of the spatial multiple.</summary>
    private static IEnumerable<(int Batch, int Height, int Width)> Sizes(int multiple)
    {
        int side = Math.Max(multiple, 32 / multiple * multiple);
        yield return (2, side, side);
        yield return (1, side, side + multiple * Math.Max(1, 8 / multiple));
    }

    private static Tensor RunOrt<T>(InferenceSession session, T[] input, long[] shape) where T : unmanaged
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [ModelContract.InputName], [value], [ModelContract.OutputName]);
        var output = outputs[0];
        long[] outShape = output.GetTensorTypeAndShape().Shape;
        return typeof(T) == typeof(byte)
            ? tensor(output.GetTensorDataAsSpan<byte>().ToArray(), outShape)
            : tensor(output.GetTensorDataAsSpan<float>().ToArray(), outShape);
    }
}
