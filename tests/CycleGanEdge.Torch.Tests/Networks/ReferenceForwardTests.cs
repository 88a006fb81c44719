using System.Runtime.CompilerServices;
using CycleGanEdge.Torch.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.NetworkTests;

/// <summary>
/// Same weights, same input, same output as the reference: Golden/forward/&lt;arch&gt;.ckpt holds weights written by
/// PyTorch running the reference layer lists (see the header's "derivation"), and &lt;arch&gt;.io.ckpt an input and
/// the output PyTorch computed in eval mode. This also reads files written by an independent writer of our format.
/// </summary>
public class ReferenceForwardTests
{
    [Theory]
    [InlineData("resnet_6blocks")] // instance norm, reflect padding, residual sums, output_padding upconvs
    [InlineData("unet_128")]       // batch norm running statistics, skip concatenation order, dropout off in eval
    [InlineData("encoder_decoder")]
    public void Output_matches_pytorch_with_the_same_weights(string arch)
    {
        using var scope = NewDisposeScope();
        var (generator, header) = CheckpointFile.LoadGenerator(Fixture(arch + ".ckpt"));
        using var _ = generator;
        Assert.Contains("reference", header.Extra["derivation"]);
        var (_, io) = CheckpointFile.Load(Fixture(arch + ".io.ckpt"));

        using var noGrad = no_grad();
        var actual = generator.forward(io["input"]);
        var expected = io["output"];
        Assert.Equal(expected.shape, actual.shape);
        double worst = (actual - expected).abs().max().item<float>();
        Assert.True(worst < 2e-5, $"largest difference from PyTorch {worst:g3} (output std {expected.std().item<float>():g3})");
    }

    private static string Fixture(string name, [CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "Golden", "forward", name);
}
