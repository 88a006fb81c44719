using CycleGanEdge.Core;
using CycleGanEdge.Torch.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static CycleGanEdge.Torch.Networks.NetworkFactory;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.NetworkTests;

public class NetworkShapeTests
{
    [Fact]
    public void Stable_leaky_relu_computes_what_leaky_relu_computes_and_the_networks_use_it()
    {
        using var x = randn(2, 3, 5, 5, generator: new Generator(7));
        using var expected = nn.functional.leaky_relu(x, 0.2);
        using var module = new StableLeakyReLU(0.2);
        using var got = module.call(x);
        Assert.True(got.allclose(expected, rtol: 0, atol: 0));
        using var d = CreateDiscriminator(new DiscriminatorOptions { InputNc = 3, Ndf = 4 });
        Assert.NotEmpty(d.modules().OfType<StableLeakyReLU>());
        Assert.Empty(d.modules().OfType<LeakyReLU>());
        using var unet = CreateGenerator(new GeneratorOptions { Arch = "unet_128", Ngf = 4 });
        Assert.NotEmpty(unet.modules().OfType<StableLeakyReLU>());
        Assert.Empty(unet.modules().OfType<LeakyReLU>());
    }

    [Theory]
    [InlineData("resnet_9blocks", 32)]
    [InlineData("resnet_6blocks", 36)]
    [InlineData("unet_128", 128)]
    [InlineData("encoder_decoder", 28)]
    [InlineData("encoder_decoder", 64)]
    public void Generator_keeps_the_image_size(string arch, int size)
    {
        using var scope = NewDisposeScope();
        using var g = CreateGenerator(new GeneratorOptions { Arch = arch, Ngf = 8 });
        var y = g.forward(rand(2, 3, size, size));
        Assert.Equal(new long[] { 2, 3, size, size }, y.shape);
        Assert.True(y.abs().max().item<float>() <= 1f, "generators end in tanh");
    }

    [Fact]
    public void Unet_256_keeps_the_image_size()
    {
        using var scope = NewDisposeScope();
        using var g = CreateGenerator(new GeneratorOptions { Arch = "unet_256", Ngf = 4 });
        g.eval();
        Assert.Equal(new long[] { 1, 3, 256, 256 }, g.forward(rand(1, 3, 256, 256)).shape);
    }

    [Theory]
    [InlineData("resnet_6blocks", "instance")]
    [InlineData("resnet_6blocks", "batch")]
    [InlineData("resnet_6blocks", "none")]
    [InlineData("unet_128", "batch")]
    [InlineData("unet_128", "none")]
    [InlineData("encoder_decoder", "batch")]
    [InlineData("encoder_decoder", "none")]
    public void Generator_maps_grayscale_to_colour_with_each_norm(string arch, string norm)
    {
        using var scope = NewDisposeScope();
        int size = SpatialMultiple(new GeneratorOptions { Arch = arch }) == 4 ? 32 : 128;
        using var g = CreateGenerator(new GeneratorOptions { Arch = arch, Ngf = 8, Norm = norm, InputNc = 1, OutputNc = 3 });
        Assert.Equal(new long[] { 2, 3, size, size }, g.forward(rand(2, 1, size, size)).shape);
        using var back = CreateGenerator(new GeneratorOptions { Arch = arch, Ngf = 8, Norm = norm, InputNc = 3, OutputNc = 1 });
        Assert.Equal(new long[] { 2, 1, size, size }, back.forward(rand(2, 3, size, size)).shape);
    }

    [Theory]
    [InlineData("resnet_6blocks", 32)]
    [InlineData("unet_128", 128)]
    [InlineData("encoder_decoder", 28)]
    public void Dropout_is_random_in_training_and_off_in_eval(string arch, int size)
    {
        using var scope = NewDisposeScope();
        using var g = CreateGenerator(new GeneratorOptions { Arch = arch, Ngf = 8, Norm = "batch", UseDropout = true });
        Assert.Contains(g.modules(), m => m is Dropout);
        var x = rand(2, 3, size, size);
        g.train();
        Assert.False(g.forward(x).allclose(g.forward(x)), "two training passes with dropout should differ");
        g.eval();
        Assert.True(g.forward(x).allclose(g.forward(x), rtol: 0, atol: 0), "eval passes must be deterministic");
    }

    [Theory]
    [InlineData("resnet_9blocks", 9)]  // one per residual block
    [InlineData("resnet_6blocks", 6)]
    [InlineData("unet_128", 2)]        // only the num_downs - 5 innermost-but-one blocks, as the reference
    [InlineData("unet_256", 3)]
    [InlineData("encoder_decoder", EncoderDecoderGenerator.ResidualBlocks)]
    public void Dropout_sits_where_the_reference_puts_it(string arch, int count)
    {
        using var g = CreateGenerator(new GeneratorOptions { Arch = arch, Ngf = 4, UseDropout = true });
        var dropouts = g.modules().OfType<Dropout>().ToList();
        Assert.Equal(count, dropouts.Count);
        Assert.All(dropouts, d => Assert.Equal(0.5, d.p));
    }

    [Fact]
    public void Without_dropout_there_are_no_dropout_layers()
    {
        foreach (var arch in GeneratorArchs)
        {
            using var g = CreateGenerator(new GeneratorOptions { Arch = arch, Ngf = 4 });
            Assert.DoesNotContain(g.modules(), m => m is Dropout);
        }
    }

    [Theory]
    [InlineData("basic", 3, 64, new long[] { 2, 1, 6, 6 })]
    [InlineData("n_layers", 2, 32, new long[] { 2, 1, 6, 6 })]
    [InlineData("n_layers", 4, 64, new long[] { 2, 1, 2, 2 })]
    [InlineData("pixel", 3, 32, new long[] { 2, 1, 32, 32 })]
    [InlineData("global", 3, 28, new long[] { 2, 1 })]
    [InlineData("global", 3, 64, new long[] { 2, 1 })]
    public void Discriminator_output_shape(string arch, int nLayers, int size, long[] expected)
    {
        using var scope = NewDisposeScope();
        foreach (var norm in Norms)
        {
            foreach (int channels in new[] { 1, 3 })
            {
                using var d = CreateDiscriminator(new DiscriminatorOptions { Arch = arch, Ndf = 8, NLayers = nLayers, Norm = norm, InputNc = channels });
                Assert.Equal(expected, d.forward(rand(2, channels, size, size)).shape);
            }
        }
    }

    [Fact]
    public void Instance_norm_has_no_affine_parameters_or_running_statistics()
    {
        using var g = CreateGenerator(new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 4 });
        var norms = g.modules().OfType<InstanceNorm2d>().ToList();
        Assert.Equal(1 + 2 + 6 * 2 + 2, norms.Count); // stem, downs, two per block, ups
        Assert.All(norms, n => Assert.False(n.affine || n.track_running_stats));
    }

    [Fact]
    public void Exporter_can_read_layer_hyper_parameters()
    {
        using var g = (ResnetGenerator)CreateGenerator(new GeneratorOptions { Arch = "resnet_9blocks", Ngf = 8, InputNc = 1 });
        var layers = g.model.children().ToList();
        Assert.Equal(10 + 9 + 6 + 3, layers.Count);
        Assert.Equal(new long[] { 3, 3, 3, 3 }, ((ReflectionPad2d)layers[0]).padding);
        var first = (Conv2d)layers[1];
        Assert.Equal((1L, 8L), (first.in_channels, first.out_channels));
        Assert.Equal(new long[] { 7, 7 }, first.kernel_size);
        var down = (Conv2d)layers[4];
        Assert.Equal(new long[] { 2, 2 }, down.stride);
        Assert.Equal(new long[] { 1, 1 }, down.padding);
        var block = (ResnetBlock)layers[10];
        Assert.IsType<Conv2d>(block.conv_block.children().ElementAt(1));
        var up = (ConvTranspose2d)layers[19];
        Assert.Equal(new long[] { 1, 1 }, up.output_padding);
        Assert.IsType<Tanh>(layers[^1]);

        using var u = (UnetGenerator)CreateGenerator(new GeneratorOptions { Arch = "unet_128", Ngf = 8 });
        Assert.True(u.model.Outermost);
        var inner = (UnetSkipConnectionBlock)u.model.model.children().ElementAt(1);
        Assert.False(inner.Outermost);
        Assert.Equal(0.2, ((StableLeakyReLU)inner.model.children().First()).NegativeSlope, 6);
    }

    [Fact]
    public void Spatial_multiple_matches_the_downsamplings()
    {
        Assert.Equal(4, SpatialMultiple(new GeneratorOptions { Arch = "resnet_9blocks" }));
        Assert.Equal(4, SpatialMultiple(new GeneratorOptions { Arch = "resnet_6blocks" }));
        Assert.Equal(4, SpatialMultiple(new GeneratorOptions { Arch = "encoder_decoder" }));
        Assert.Equal(128, SpatialMultiple(new GeneratorOptions { Arch = "unet_128" }));
        Assert.Equal(256, SpatialMultiple(new GeneratorOptions { Arch = "unet_256" }));
    }

    /// <summary>The descriptor's layer count (what --nce-layers is checked against) is the built generator's.</summary>
    [Theory]
    [InlineData("resnet_6blocks", false)]
    [InlineData("resnet_9blocks", false)]
    [InlineData("resnet_6blocks", true)]
    [InlineData("resnet_9blocks", true)]
    public void The_descriptors_layer_count_is_the_built_resnets(string arch, bool antialias)
    {
        var options = new GeneratorOptions { Arch = arch, Ngf = 4, Antialias = antialias };
        using var generator = (ResnetGenerator)CreateGenerator(options);
        Assert.Equal(generator.LayerCount, ResnetGenerator.LayersOf(options.Descriptor));
    }

    /// <summary>Options and descriptor carry the same architecture both ways (dropout is not the descriptor's).</summary>
    [Fact]
    public void Generator_options_and_their_descriptor_round_trip()
    {
        foreach (string arch in GeneratorArchs)
            foreach (string upsample in Upsamplings)
            {
                var options = new GeneratorOptions { Arch = arch, Ngf = 8, Norm = "batch", InputNc = 1, OutputNc = 3, Upsample = upsample, UseDropout = true };
                var descriptor = options.Descriptor;
                Assert.Equal(SpatialMultiple(options), descriptor.SpatialMultiple);
                Assert.Equal(options, GeneratorOptions.From(descriptor, useDropout: true));
            }
        Assert.Throws<ArgumentException>(() => new GeneratorOptions { Arch = "unet_512" }.Descriptor);
        var residual = new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 8, Residual = true };
        Assert.Equal(GeneratorOutput.Residual, residual.Descriptor.Output);
        Assert.Equal(residual, GeneratorOptions.From(residual.Descriptor, useDropout: false));
    }

    /// <summary>
    /// A residual generator draws a change to its input: with a last conv that gives 0 the output is the input itself;
    /// with one that gives a constant it is the input plus tanh of it, clipped to [-1, 1]; other archs refuse it.
    /// </summary>
    [Fact]
    public void A_residual_generator_adds_its_change_to_the_input()
    {
        using var generator = (ResnetGenerator)CreateGenerator(new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 4, Residual = true });
        generator.eval();
        var last = (TorchSharp.Modules.Conv2d)generator.model[generator.LayerCount - 2];
        using var noGrad = torch.no_grad();
        using var x = torch.rand(1, 3, 16, 20) * 2 - 1;
        last.weight!.zero_();
        last.bias!.zero_();
        using (var y = generator.forward(x))
            Assert.Equal(0, (y - x).abs().max().item<float>());
        last.bias!.fill_(0.5);
        using (var y = generator.forward(x))
        using (var expected = (x + MathF.Tanh(0.5f)).clamp(-1, 1))
        {
            Assert.True((y - expected).abs().max().item<float>() < 1e-6f);
            Assert.Equal(1f, y.max().item<float>());
        }
        Assert.Throws<ArgumentException>(() => CreateGenerator(new GeneratorOptions { Arch = "unet_128", Ngf = 4, Residual = true }));
        Assert.Throws<ArgumentException>(() => CreateGenerator(new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 4, InputNc = 1, Residual = true }));
    }

    [Fact]
    public void Unknown_names_list_the_valid_ones()
    {
        var arch = Assert.Throws<ArgumentException>(() => CreateGenerator(new GeneratorOptions { Arch = "resnet_12blocks" }));
        Assert.Contains("resnet_12blocks", arch.Message);
        Assert.All(GeneratorArchs, a => Assert.Contains(a, arch.Message));

        var dArch = Assert.Throws<ArgumentException>(() => CreateDiscriminator(new DiscriminatorOptions { Arch = "patch" }));
        Assert.All(DiscriminatorArchs, a => Assert.Contains(a, dArch.Message));

        var norm = Assert.Throws<ArgumentException>(() => CreateGenerator(new GeneratorOptions { Norm = "group" }));
        Assert.All(Norms, n => Assert.Contains(n, norm.Message));
        var dNorm = Assert.Throws<ArgumentException>(() => CreateDiscriminator(new DiscriminatorOptions { Norm = "layer" }));
        Assert.All(Norms, n => Assert.Contains(n, dNorm.Message));

        using var g = CreateGenerator(new GeneratorOptions { Arch = "encoder_decoder", Ngf = 4 });
        var init = Assert.Throws<ArgumentException>(() => InitWeights(g, "uniform", 0.02));
        Assert.All(InitTypes, t => Assert.Contains(t, init.Message));

        var spatial = Assert.Throws<ArgumentException>(() => SpatialMultiple(new GeneratorOptions { Arch = "unet_512" }));
        Assert.Contains("unet_256", spatial.Message);
    }

    [Theory]
    [InlineData("resnet_6blocks", 30, "multiples of 4, not 30x30")]
    [InlineData("encoder_decoder", 26, "multiples of 4, not 26x26")]
    [InlineData("unet_128", 64, "multiples of 128, not 64x64")]
    public void Wrong_input_sizes_get_a_clear_message(string arch, int size, string expected)
    {
        using var scope = NewDisposeScope();
        using var g = CreateGenerator(new GeneratorOptions { Arch = arch, Ngf = 4 });
        var e = Assert.Throws<ArgumentException>(() => g.forward(rand(1, 3, size, size)));
        Assert.Contains(expected, e.Message);
        var channels = Assert.Throws<ArgumentException>(() => g.forward(rand(1, 1, 128, 128)));
        Assert.Contains("[N, 3, H, W] batch, not [1, 1, 128, 128]", channels.Message);
    }

    [Fact]
    public void Only_grayscale_or_colour_channels_are_accepted()
    {
        Assert.Throws<ArgumentException>(() => CreateGenerator(new GeneratorOptions { InputNc = 4 }));
        Assert.Throws<ArgumentException>(() => CreateGenerator(new GeneratorOptions { OutputNc = 2 }));
        Assert.Throws<ArgumentException>(() => CreateDiscriminator(new DiscriminatorOptions { InputNc = 0 }));
    }
}
