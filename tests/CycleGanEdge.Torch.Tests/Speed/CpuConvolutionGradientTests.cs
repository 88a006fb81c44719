using CycleGanEdge.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CycleGanEdge.Torch.Tests.Speed;

/// <summary>
/// The CPU backend the trainer configures must give correct convolution gradients. With libtorch 2.10's
/// oneDNN on (--onednn) this machine's AVX2/AVX-512 kernels returned wrong input gradients, about as large
/// as the gradients themselves and sometimes NaN, for convolutions with fewer than 16 output channels: the
/// last 7x7 layer of the resnet generators and the PatchGAN score layer (see benchmarks/TRAINING.md).
/// Each case compares the float32 input, weight and bias gradients with a float64 computation.
/// </summary>
public class CpuConvolutionGradientTests
{
    [Theory]
    [InlineData(8, 3, 7, 70, 0)]   // generator output layer at 64 px (after reflection padding)
    [InlineData(3, 8, 7, 70, 0)]   // generator input layer at ngf 8 (8 output channels)
    [InlineData(64, 1, 4, 7, 1)]   // PatchGAN score layer
    [InlineData(16, 32, 3, 18, 0)] // a residual block conv
    public void Default_cpu_backend_gives_float64_accurate_convolution_gradients(int inChannels, int outChannels, int kernel, int size, int padding)
    {
        TorchSetup.ConfigureCpu(oneDnn: false); // what training and bench do without --onednn
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        for (int trial = 0; trial < 3; trial++)
        {
            var x = randn([1, inChannels, size, size], generator: generator);
            var w = randn([outChannels, inChannels, kernel, kernel], generator: generator) * 0.02;
            var b = randn([outChannels], generator: generator) * 0.02;
            var (gx, gw, gb) = Gradients(x, w, b, padding, float32);
            var (rx, rw, rb) = Gradients(x, w, b, padding, float64);
            AssertClose(gx, rx, "input");
            AssertClose(gw, rw, "weight");
            AssertClose(gb, rb, "bias");
        }
    }

    /// <summary>
    /// Largest difference within 1e-4 of the largest reference value: float32 sums of thousands of products
    /// stay well inside; the oneDNN errors seen were as large as the values.
    /// </summary>
    private static void AssertClose(Tensor actual, Tensor expected, string what)
    {
        double error = (actual.to(float64) - expected).abs().max().item<double>();
        double scale = expected.abs().max().item<double>();
        Assert.True(double.IsFinite(error) && error <= 1e-4 * scale + 1e-7, $"{what} gradient differs by {error:G3} (largest value {scale:G3})");
    }

    /// <summary>Gradients of sum(conv(x) * g), g the same random tensor for both precisions.</summary>
    private static (Tensor X, Tensor W, Tensor B) Gradients(Tensor x, Tensor w, Tensor b, int padding, ScalarType type)
    {
        var xs = x.detach().to(type).requires_grad_(true);
        var ws = w.detach().to(type).requires_grad_(true);
        var bs = b.detach().to(type).requires_grad_(true);
        var y = F.conv2d(xs, ws, bs, padding: new long[] { padding, padding });
        y.backward([OutputGradient(y.shape).to(type)]);
        return (xs.grad!, ws.grad!, bs.grad!);
    }

    private static Tensor OutputGradient(long[] shape)
    {
        var generator = new Generator((ulong)shape.Aggregate(17L, (h, d) => h * 31 + d));
        return randn(shape, generator: generator);
    }
}
