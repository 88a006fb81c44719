using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace CycleGanEdge.Exporter.Tests;

/// <summary>Layer emitters on hand-assembled modules, beyond what the reference generators use.</summary>
public class LayerTests
{
    private static readonly ModelIdentity Identity = new();

    [Fact]
    public void EverySupportedLayerTypeMatchesTorchSharp()
    {
        random.manual_seed(7);
        var norm = BatchNorm2d(16);
        using var model = Sequential(
            ("pad", ReflectionPad2d(2)),
            ("conv", Conv2d(3, 8, kernel_size: 5, bias: true)),
            ("in_affine", InstanceNorm2d(8, affine: true)),
            ("leaky", LeakyReLU(0.2)),
            ("zero_pad_conv", Conv2d(8, 16, kernel_size: 3, stride: 2, padding: 1, bias: false)),
            ("bn", norm),
            ("relu", ReLU()),
            ("drop", Dropout(0.5)),
            ("reflect_mode_conv", Conv2d(16, 16, kernel_size: 3, padding: 1, padding_mode: PaddingModes.Reflect)),
            ("replicate", ReplicationPad2d(1)),
            ("zeros", ZeroPad2d(1)),
            ("valid", Conv2d(16, 16, kernel_size: 5)),
            // Asymmetric paddings catch a swapped (left, right, top, bottom) or (height, width) order.
            ("asymmetric_pad", ReflectionPad2d((1L, 2L, 0L, 3L))),
            ("asymmetric_conv", Conv2d(16, 16, kernel_size: 4)),
            ("rect_reflect_conv", Conv2d(16, 16, kernel_size: (3, 5), padding: (1, 2), padding_mode: PaddingModes.Reflect)),
            ("up", ConvTranspose2d(16, 8, kernel_size: 3, stride: 2, padding: 1, output_padding: 1)),
            ("sigmoid", Sigmoid()),
            ("dilated", Conv2d(8, 3, kernel_size: 3, padding: 2, dilation: 2)),
            ("tanh", Tanh()));
        // Non-trivial running statistics and affine parameters, as after training.
        using (no_grad())
        {
            norm.running_mean!.copy_(randn(16) * 0.5);
            norm.running_var!.copy_(rand(16) + 0.5);
            norm.weight!.copy_(rand(16) + 0.5);
            norm.bias!.copy_(randn(16) * 0.1);
        }
        var arch = TinyGenerators.Options("resnet_6blocks");
        foreach (var options in new[] { new ExportOptions(), new ExportOptions { FoldBatchNorm = true } })
        {
            byte[] onnx = OnnxExport.ToBytes(model, arch, options, Identity);
            var report = OnnxExport.CheckParity(model, arch, onnx, options);
            Assert.All(report.Samples, s => Assert.InRange(s.MaxAbsDiff, 0, 1e-4));
        }
    }

    [Fact]
    public void UnsupportedLayerIsAnErrorNamingItsPathAndType()
    {
        using var model = Sequential(
            ("body", Sequential(Conv2d(3, 3, kernel_size: 1), GELU())),
            ("tanh", Tanh()));
        var arch = TinyGenerators.Options("resnet_6blocks");
        var error = Assert.Throws<ExportException>(() => OnnxExport.ToBytes(model, arch, new ExportOptions(), Identity));
        Assert.StartsWith("unsupported layer 'body.1' (TorchSharp.Modules.GELU)", error.Message);
    }
}
