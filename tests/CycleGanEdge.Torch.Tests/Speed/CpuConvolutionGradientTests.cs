using CycleGanEdge.Torch.Networks;
using CycleGanEdge.Torch.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CycleGanEdge.Torch.Tests.Speed;

/// <summary>
/// Training must get correct gradients from the CPU backend it configures. libtorch 2.10's oneDNN (on by
/// default) returned wrong input gradients on this machine's AVX2/AVX-512 kernels, about as large as the
/// gradients themselves and sometimes NaN, for convolutions with fewer than 16 output channels (the last 7x7
/// layer of the resnet generators, the PatchGAN score layer; benchmarks/TRAINING.md). Training pads those
/// layers to 16 output channels (NarrowConvolutionPadding). Each case compares float32 gradients, as
/// training computes them, with float64 (which oneDNN does not run).
/// </summary>
public class CpuConvolutionGradientTests
{
    [Theory]
    [InlineData(8, 3, 7, 70, 0)]   // generator output layer at 64 px (after reflection padding)
    [InlineData(3, 8, 7, 70, 0)]   // generator input layer at ngf 8 (8 output channels)
    [InlineData(64, 1, 4, 7, 1)]   // PatchGAN score layer
    [InlineData(16, 32, 3, 18, 0)] // a residual block conv
    public void Training_convolutions_give_float64_accurate_gradients(int inChannels, int outChannels, int kernel, int size, int padding)
    {
        TorchSetup.ConfigureCpu(oneDnn: true); // what training does by default
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        var conv = nn.Conv2d(inChannels, outChannels, kernel, padding: padding);
        var layer = nn.Sequential(("conv", (nn.Module<Tensor, Tensor>)conv));
        Assert.Equal(outChannels < NarrowConvolutionPadding.MinOutputChannels ? 1 : 0, NarrowConvolutionPadding.Apply(layer));
        for (int trial = 0; trial < 3; trial++)
        {
            DirtyFreedMemory();
            var x = randn([1, inChannels, size, size], generator: generator);
            var w = randn([outChannels, inChannels, kernel, kernel], generator: generator) * 0.02;
            var b = randn([outChannels], generator: generator) * 0.02;
            using (no_grad()) { conv.weight.copy_(w); conv.bias!.copy_(b); }
            conv.zero_grad();
            var xs = x.detach().requires_grad_(true);
            var y = layer.forward(xs);
            y.backward([OutputGradient(y.shape)]);
            var (rx, rw, rb) = Float64Gradients(x, w, b, padding);
            AssertClose(y, F.conv2d(x.to(float64), w.to(float64), b.to(float64), padding: [padding, padding]), "output");
            AssertClose(xs.grad!, rx, "input");
            AssertClose(conv.weight.grad!, rw, "weight");
            AssertClose(conv.bias.grad!, rb, "bias");
        }
    }

    /// <summary>
    /// Whole networks as training builds them (CycleGanModel: oneDNN, narrow layers padded): the gradients of
    /// every parameter and of the input match the same network run in float64.
    /// </summary>
    [Theory]
    [InlineData("resnet_6blocks")]
    [InlineData("unet_128")]
    [InlineData("encoder_decoder")]
    public void Training_networks_give_float64_accurate_gradients(string netG)
    {
        TorchSetup.ConfigureCpu(oneDnn: true);
        using var scope = NewDisposeScope();
        manual_seed(11);
        var model = new CycleGanModel(new TrainOptions { NetG = netG, Ngf = 8, Ndf = 8, Norm = netG == "encoder_decoder" ? "batch" : "instance", NoDropout = true }, CPU);
        int size = netG == "unet_128" ? 128 : 32;
        var generator = new Generator(3);
        var x = randn([1, 3, size, size], generator: generator);
        // G then D, as the generator's GAN loss runs it: the D's score layer backward-data feeds G.
        AssertGradientsMatchFloat64(model.GA, model.DA, x);
    }

    /// <summary>
    /// CUT's anti-aliased generator and PatchGAN as training builds them: the blur layers are depthwise convolutions
    /// outside NarrowConvolutionPadding's reach, with as few as 8 channels at ngf 4; their gradients must be right too.
    /// </summary>
    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    public void Antialiased_cut_networks_give_float64_accurate_gradients(int width)
    {
        TorchSetup.ConfigureCpu(oneDnn: true);
        using var scope = NewDisposeScope();
        manual_seed(12);
        var options = TrainOptions.Defaults(TranslationModels.Cut) with { NetG = "resnet_6blocks", Ngf = width, Ndf = width };
        using var model = new CutModel(options, CPU);
        var x = randn([1, 3, 32, 32], generator: new Generator(4));
        AssertGradientsMatchFloat64(model.G, model.D, x);
    }

    /// <summary>Gradients of G then D in float32 against the same networks turned float64, for every parameter and the input.</summary>
    private static void AssertGradientsMatchFloat64(nn.Module<Tensor, Tensor> g, nn.Module<Tensor, Tensor> d, Tensor x)
    {
        var (g32, x32) = Gradients(g, d, x);
        g.to(float64);
        d.to(float64);
        var (g64, x64) = Gradients(g, d, x.to(float64));
        AssertClose(x32, x64, "input");
        // Biases before a norm layer have (near) zero gradient: judge every tensor against the largest gradient.
        double floor = 1e-4 * g64.Values.Max(v => v.abs().max().item<double>());
        foreach (var (name, grad) in g32) AssertClose(grad, g64[name], name, floor);
    }

    private static (Dictionary<string, Tensor> Params, Tensor Input) Gradients(nn.Module<Tensor, Tensor> g, nn.Module<Tensor, Tensor> d, Tensor x)
    {
        g.zero_grad();
        d.zero_grad();
        var xs = x.detach().requires_grad_(true);
        var score = d.forward(g.forward(xs));
        score.backward([OutputGradient(score.shape).to(score.dtype)]);
        var grads = g.named_parameters().Select(p => ("G." + p.name, p.parameter.grad!.detach().clone()))
            .Concat(d.named_parameters().Select(p => ("D." + p.name, p.parameter.grad!.detach().clone())))
            .ToDictionary(p => p.Item1, p => p.Item2);
        return (grads, xs.grad!.detach().clone());
    }

    /// <summary>
    /// Largest difference within 1e-3 of the largest reference value (networks chain dozens of float32 layers;
    /// a single layer stays far inside); the oneDNN errors seen were as large as the values, or NaN.
    /// </summary>
    private static void AssertClose(Tensor actual, Tensor expected, string what, double floor = 1e-7)
    {
        double error = (actual.to(float64) - expected.to(float64)).abs().max().item<double>();
        double scale = expected.abs().max().item<double>();
        Assert.True(double.IsFinite(error) && error <= 1e-3 * scale + floor, $"{what} differs by {error:G3} (largest value {scale:G3})");
    }

    private static (Tensor X, Tensor W, Tensor B) Float64Gradients(Tensor x, Tensor w, Tensor b, int padding)
    {
        var xs = x.detach().to(float64).requires_grad_(true);
        var ws = w.detach().to(float64).requires_grad_(true);
        var bs = b.detach().to(float64).requires_grad_(true);
        var y = F.conv2d(xs, ws, bs, padding: [padding, padding]);
        y.backward([OutputGradient(y.shape).to(float64)]);
        return (xs.grad!, ws.grad!, bs.grad!);
    }

    private static Tensor OutputGradient(long[] shape)
    {
        var generator = new Generator((ulong)shape.Aggregate(17L, (h, d) => h * 31 + d));
        return randn(shape, generator: generator);
    }

    /// <summary>
    /// The bug read memory it never wrote: freed blocks holding NaN bits turned wrong gradients into NaN. Leave
    /// such blocks behind so a regression shows as NaN, not only as a large error.
    /// </summary>
    private static void DirtyFreedMemory()
    {
        for (int i = 0; i < 4; i++) full([1 << (14 + i)], double.NaN).Dispose();
    }
}
