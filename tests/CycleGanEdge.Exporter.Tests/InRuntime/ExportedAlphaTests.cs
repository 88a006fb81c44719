using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Exporter.Quantization;
using CycleGanEdge.Runtime;
using CycleGanEdge.Runtime.Tests;
using CycleGanEdge.Torch.Networks;
using static TorchSharp.torch;

namespace CycleGanEdge.Exporter.Tests.InRuntime;

/// <summary>
/// A real tiny generator exported with the record of a cyclegan-train data set (composited onto white): the runtime
/// and the int8 calibration feed it raw RGBA files exactly as they would feed their composited copies.
/// </summary>
public class ExportedAlphaTests
{
    private static readonly TranslatorOptions Cpu = new() { Provider = "cpu", Threads = 1 };

    private static string Export(string io, ImagePreprocessing? preprocessing)
    {
        random.manual_seed(5);
        var arch = new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 8, Norm = "instance" };
        using var g = NetworkFactory.CreateGenerator(arch);
        var identity = new ModelIdentity { TrainSize = 32, Preprocessing = preprocessing };
        return ExportedModels.Save(OnnxExport.ToBytes(g, arch, new ExportOptions { Io = io }, identity));
    }

    [Theory]
    [InlineData(ModelContract.IoFloat32Nchw)]
    [InlineData(ModelContract.IoUint8Nhwc)]
    public void Raw_rgba_translates_like_its_copy_composited_onto_white(string io)
    {
        // --alpha input: the output keeps the input's alpha and the model's colours as they are, so both can be compared.
        using var t = Translator.Open(Export(io, ImagePreprocessing.CompositeOnWhite("resize_and_crop", 36)), Cpu with { Alpha = OutputAlpha.Input });
        using var old = Translator.Open(Export(io, null), Cpu);
        for (int seed = 0; seed < 3; seed++)
        {
            var shape = TestImages.Shape(36, 32, seed);
            var raw = t.Translate(shape);
            Assert.InRange(TestImages.MeanDifferenceInside(shape, raw, t.Translate(TestImages.OnWhite(shape))), 0, 1);
            for (int p = 3; p < shape.Pixels.Length; p += 4) Assert.Equal(shape.Pixels[p], raw.Pixels[p]);
            // Control: the same network without the record sees the garbage, and its shape comes out otherwise.
            Assert.True(TestImages.MeanDifferenceInside(shape, old.Translate(shape), old.Translate(TestImages.OnWhite(shape))) > 1);
        }
    }

    [Fact]
    public void Calibration_composites_as_the_runtime_does()
    {
        string rawDir = ExportedModels.Folder(), whiteDir = ExportedModels.Folder();
        for (int i = 0; i < 3; i++)
        {
            var shape = TestImages.Shape(32, 32, seed: 20 + i);
            File.WriteAllBytes(Path.Combine(rawDir, $"{i}.png"), ImageCodec.Encode(shape, ImageFormat.Png));
            File.WriteAllBytes(Path.Combine(whiteDir, $"{i}.png"), ImageCodec.Encode(TestImages.OnWhite(shape), ImageFormat.Png));
        }
        var meta = new Dictionary<string, string>
        {
            [ModelContract.TrainSizeKey] = "32", [ModelContract.SpatialMultipleKey] = "4", [ModelContract.ChannelsInKey] = "3",
            [ModelContract.IoKey] = ModelContract.IoFloat32Nchw,
        };
        var unrecorded = new Dictionary<string, string>(meta);
        foreach (var (k, v) in ImagePreprocessing.CompositeOnWhite("resize_and_crop", 36).Metadata()) meta[k] = v;

        var raw = CalibrationSet.Load(rawDir, meta, TextWriter.Null);
        var white = CalibrationSet.Load(whiteDir, meta, TextWriter.Null);
        Assert.Equal(white.Select(x => x.Floats!), raw.Select(x => x.Floats!));
        // Without the record the RGB under transparent pixels reaches calibration as it is.
        Assert.NotEqual(white.Select(x => x.Floats!), CalibrationSet.Load(rawDir, unrecorded, TextWriter.Null).Select(x => x.Floats!));
    }
}
