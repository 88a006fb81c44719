using System.Runtime.CompilerServices;
using CycleGanEdge.Exporter.PyTorch;
using CycleGanEdge.Torch.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.NetworkTests;

/// <summary>
/// The anti-aliased resnet generator and PatchGAN against the CUT reference's own modules run in PyTorch
/// (tests/fixtures/pytorch/make_antialias_fixture.py): the same state_dict keys and shapes (the blur filters are
/// the buffers "filt", as there), the same weights, the same output on a non-square input.
/// </summary>
public class AntialiasReferenceTests
{
    [Fact]
    public void Generator_matches_the_reference()
    {
        using var generator = new ResnetGenerator(3, 3, ngf: 4, "instance", useDropout: false, nBlocks: 6, antialias: true);
        AssertSameAsReference(generator, "resnet_6blocks_ngf4_antialias", [1, 3, 32, 40]);
        // Layer indices as the reference enumerates them (CUT's --nce-layers): blur-downs at 7 and 11, blocks at 12..17.
        Assert.IsType<BlurDownsample>(generator.model[7]);
        Assert.IsType<BlurDownsample>(generator.model[11]);
        Assert.IsType<ResnetBlock>(generator.model[12]);
        Assert.IsType<BlurUpsample>(generator.model[18]);
        Assert.Equal(29, generator.LayerCount); // 4 + 2 x 4 + 6 + 2 x 4 + 3
    }

    [Fact]
    public void Patchgan_matches_the_reference()
    {
        using var discriminator = new NLayerDiscriminator(3, ndf: 4, nLayers: 3, "instance", antialias: true);
        AssertSameAsReference(discriminator, "basic_ndf4_antialias", [1, 1, 2, 3]);
    }

    private static void AssertSameAsReference(nn.Module<Tensor, Tensor> net, string name, long[] outputShape)
    {
        using var scope = NewDisposeScope();
        var reference = PyTorchCheckpoint.ReadStateDict(Fixture(name + ".pth"));
        var own = net.state_dict();
        Assert.Equal(reference.Keys.Order(StringComparer.Ordinal), own.Keys.Order(StringComparer.Ordinal));
        using (no_grad())
        {
            foreach (var (key, target) in own)
            {
                Assert.Equal(reference[key].Shape, target.shape);
                target.copy_(tensor(reference[key].Data, reference[key].Shape));
            }
        }
        var input = tensor(ReadFloats(name + ".input.f32"), [1, 3, 32, 40]);
        var expected = tensor(ReadFloats(name + ".output.f32"), outputShape);
        net.eval();
        using var noGrad = no_grad();
        var actual = net.forward(input);
        Assert.Equal(expected.shape, actual.shape);
        double worst = (actual - expected).abs().max().item<float>();
        double scale = expected.abs().max().item<float>();
        Assert.True(worst < 2e-5 * Math.Max(1, scale), $"largest difference from PyTorch {worst:g3} (output up to {scale:g3})");
    }

    private static float[] ReadFloats(string name)
    {
        var bytes = File.ReadAllBytes(Fixture(name));
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }

    private static string Fixture(string name, [CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "fixtures", "pytorch", name);
}
