using CycleGanEdge.Exporter.PyTorch;
using CycleGanEdge.Torch.Networks;
using static TorchSharp.torch;

namespace CycleGanEdge.Exporter.Tests.PyTorch;

/// <summary>--from-pytorch reads the generator options from the state_dict's keys and shapes.</summary>
public sealed class ReferenceArchitectureTests
{
    public static TheoryData<string, string, bool, int, int> Layouts()
    {
        var data = new TheoryData<string, string, bool, int, int>();
        foreach (string arch in NetworkFactory.GeneratorArchs)
            foreach (string norm in NetworkFactory.Norms)
                foreach (bool dropout in new[] { false, true })
                    data.Add(arch, norm, dropout, dropout ? 1 : 3, norm == "batch" ? 1 : 3);
        return data;
    }

    /// <summary>Our generators keep the reference's state_dict layout, so each one's options read back from its keys.</summary>
    [Theory]
    [MemberData(nameof(Layouts))]
    public void InfersTheOptionsOfEveryLayout(string arch, string norm, bool dropout, int inputNc, int outputNc)
    {
        var options = new GeneratorOptions { Arch = arch, Ngf = 2, Norm = norm, UseDropout = dropout, InputNc = inputNc, OutputNc = outputNc };
        random.manual_seed(1);
        using var generator = NetworkFactory.CreateGenerator(options);
        var stateDict = generator.state_dict().ToDictionary(e => e.Key, e =>
        {
            using var values = e.Value.to(ScalarType.Float32);
            return new StateTensor("float32", e.Value.shape, values.data<float>().ToArray());
        });

        var inferred = ReferenceArchitecture.Infer(stateDict);

        // U-Net dropout follows a block's last layer: it shifts no key, and eval mode makes it the identity.
        Assert.Equal(arch.StartsWith("unet", StringComparison.Ordinal) ? options with { UseDropout = false } : options, inferred);
    }

    [Theory]
    [InlineData("resnet_6blocks_ngf4.pth", "resnet_6blocks", 4, "instance", false, 3, 3)]
    [InlineData("resnet_6blocks_ngf4_legacy_norm.pth", "resnet_6blocks", 4, "instance", false, 3, 3)]
    [InlineData("resnet_9blocks_ngf4_none_dropout.pth", "resnet_9blocks", 4, "none", true, 3, 3)]
    [InlineData("unet_128_ngf4.pth", "unet_128", 4, "instance", false, 3, 3)]
    [InlineData("unet_256_ngf2_batch_dropout_gray.pth", "unet_256", 2, "batch", false, 1, 1)]
    [InlineData("encoder_decoder_ngf4_batch.pth", "encoder_decoder", 4, "batch", false, 3, 1)]
    public void InfersTheOptionsOfFilesPyTorchWrote(string file, string arch, int ngf, string norm, bool dropout, int inputNc, int outputNc)
    {
        var inferred = ReferenceArchitecture.Infer(PyTorchCheckpoint.ReadStateDict(Fixtures.Path(file)));
        Assert.Equal(new GeneratorOptions { Arch = arch, Ngf = ngf, Norm = norm, UseDropout = dropout, InputNc = inputNc, OutputNc = outputNc }, inferred);
    }

    /// <summary>
    /// The CUT reference's anti-aliased resnet (its blur filters are the buffers model.&lt;i&gt;.filt) reads back as such,
    /// both from our own generators and from the file the reference's modules wrote in PyTorch.
    /// </summary>
    [Theory]
    [InlineData("resnet_6blocks", "instance")]
    [InlineData("resnet_9blocks", "batch")]
    public void InfersAntialiasedResnets(string arch, string norm)
    {
        var options = new GeneratorOptions { Arch = arch, Ngf = 2, Norm = norm, Antialias = true };
        random.manual_seed(1);
        using var generator = NetworkFactory.CreateGenerator(options);
        var stateDict = generator.state_dict().ToDictionary(e => e.Key, e =>
        {
            using var values = e.Value.to(ScalarType.Float32);
            return new StateTensor("float32", e.Value.shape, values.data<float>().ToArray());
        });
        Assert.Equal(options, ReferenceArchitecture.Infer(stateDict));

        var reference = ReferenceArchitecture.Infer(PyTorchCheckpoint.ReadStateDict(Fixtures.Path("resnet_6blocks_ngf4_antialias.pth")));
        Assert.Equal(new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 4, Norm = "instance", Antialias = true }, reference);
    }

    [Fact]
    public void AStateDictWithoutConvolutionsIsNotAGenerator()
    {
        var error = Assert.Throws<InvalidDataException>(() => ReferenceArchitecture.Infer(PyTorchCheckpoint.ReadStateDict(Fixtures.Path("views.pth"))));
        Assert.Equal("holds no convolution weights: not a generator state_dict", error.Message);
    }
}
