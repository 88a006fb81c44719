using CycleGanEdge.Torch.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static CycleGanEdge.Torch.Networks.NetworkFactory;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.NetworkTests;

public class InitWeightsTests
{
    // resnet_6blocks with ngf 16: block convs are 64x64x3x3 (36,864 weights), enough for tight statistics.
    private static ResnetGenerator Generator(string norm = "batch") =>
        (ResnetGenerator)CreateGenerator(new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 16, Norm = norm });

    private static Conv2d BlockConv(ResnetGenerator g) =>
        (Conv2d)((ResnetBlock)g.model.children().ElementAt(10)).conv_block.children().ElementAt(1);

    private static ConvTranspose2d FirstUpConv(ResnetGenerator g) => (ConvTranspose2d)g.model.children().ElementAt(16);

    private static double Std(Tensor t) => t.std().item<float>();

    [Theory]
    [InlineData(0.02)]
    [InlineData(0.5)]
    public void Normal_gives_std_near_gain_and_zero_biases(double gain)
    {
        using var scope = NewDisposeScope();
        using var g = Generator("instance");
        InitWeights(g, "normal", gain);
        Assert.InRange(Std(BlockConv(g).weight), gain * 0.97, gain * 1.03);
        Assert.InRange(Std(FirstUpConv(g).weight), gain * 0.95, gain * 1.05);
        Assert.InRange(BlockConv(g).weight.mean().item<float>(), -gain * 0.03, gain * 0.03);
        Assert.Equal(0f, BlockConv(g).bias!.abs().max().item<float>());
        var last = (Conv2d)g.model.children().ElementAt(g.model.Count - 2);
        Assert.Equal(0f, last.bias!.abs().max().item<float>());
    }

    [Fact]
    public void Xavier_scales_with_fan_in_and_fan_out()
    {
        using var scope = NewDisposeScope();
        using var g = Generator();
        InitWeights(g, "xavier", 1.0);
        // fan_in = fan_out = 64 * 3 * 3
        Assert.InRange(Std(BlockConv(g).weight), Math.Sqrt(2.0 / (576 + 576)) * 0.97, Math.Sqrt(2.0 / (576 + 576)) * 1.03);
    }

    [Fact]
    public void Kaiming_uses_fan_in_and_ignores_gain()
    {
        using var scope = NewDisposeScope();
        using var g = Generator();
        InitWeights(g, "kaiming", 0.02);
        double expected = Math.Sqrt(2.0 / 576);
        Assert.InRange(Std(BlockConv(g).weight), expected * 0.97, expected * 1.03);
    }

    [Fact]
    public void Orthogonal_gives_orthogonal_rows_scaled_by_gain()
    {
        using var scope = NewDisposeScope();
        using var g = Generator();
        const double gain = 0.5;
        InitWeights(g, "orthogonal", gain);
        var w = BlockConv(g).weight.reshape(64, -1);
        var gram = w.matmul(w.t());
        Assert.True(gram.allclose(eye(64) * (gain * gain), rtol: 0, atol: 1e-4), "W W^T should be gain^2 I");
    }

    [Fact]
    public void Batch_norm_weights_are_near_one_with_std_gain()
    {
        using var scope = NewDisposeScope();
        // Many batch norm channels together: ngf 64 resnet_6blocks has 12 x 256 block norm weights.
        using var g = CreateGenerator(new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 64, Norm = "batch" });
        InitWeights(g, "normal", 0.02);
        var norms = g.modules().OfType<BatchNorm2d>().ToList();
        var weights = cat(norms.Select(n => (Tensor)n.weight!).ToArray());
        Assert.InRange(weights.mean().item<float>(), 0.998, 1.002);
        Assert.InRange(Std(weights), 0.018, 0.022);
        Assert.All(norms, n => Assert.Equal(0f, n.bias!.abs().max().item<float>()));
    }

    [Fact]
    public void Linear_layers_are_initialised_too()
    {
        using var scope = NewDisposeScope();
        using var d = CreateDiscriminator(new DiscriminatorOptions { Arch = "global", Ndf = 64 });
        var linear = d.modules().OfType<Linear>().Single();
        InitWeights(d, "normal", 3.0);
        Assert.InRange(Std(linear.weight), 2.0, 4.0);
        Assert.Equal(0f, linear.bias!.abs().max().item<float>());
    }
}
