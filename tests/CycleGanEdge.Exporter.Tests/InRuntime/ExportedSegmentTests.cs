using CycleGanEdge.Runtime;
using CycleGanEdge.Runtime.Tests;
using CycleGanEdge.Torch.Networks;
using static TorchSharp.torch;

namespace CycleGanEdge.Exporter.Tests.InRuntime;

/// <summary>
/// --tile-norm exact (issue 28) on real exported generators: segmented, tiled output against the untiled run, for resnet
/// and unet, both upsampling kinds (ConvTranspose and nearest Resize + conv), a residual resnet (its last segment reads the
/// image tile too), with tiles small enough that every
/// full-resolution segment runs in several tiles with halos. The bound is the issue's (mean <= 1, max <= 8 grey levels);
/// in practice it is float rounding.
/// </summary>
public class ExportedSegmentTests
{
    private static readonly TranslatorOptions Cpu = new() { Provider = "cpu", Threads = 1, Tile = 0 };

    [Theory]
    [InlineData("resnet_6blocks", "convtranspose", false, 64, 48, 16)]
    [InlineData("resnet_6blocks", "resize", false, 64, 48, 16)]
    [InlineData("resnet_6blocks", "resize", false, 64, 48, 16, true)]
    [InlineData("resnet_9blocks", "convtranspose", true, 56, 40, 24)]
    [InlineData("unet_128", "convtranspose", false, 256, 128, 32)]
    [InlineData("unet_128", "resize", false, 256, 128, 32)]
    [InlineData("encoder_decoder", "convtranspose", false, 64, 64, 32)]
    public void Segmented_tiles_match_the_untiled_run(string arch, string upsample, bool fp16, int width, int height, int tile,
        bool residual = false)
    {
        random.manual_seed(5);
        var options = new GeneratorOptions { Arch = arch, Ngf = 8, Norm = "instance", Upsample = upsample, Residual = residual };
        using var g = NetworkFactory.CreateGenerator(options);
        string model = ExportedModels.Save(OnnxExport.ToBytes(g, options, new ExportOptions { Fp16 = fp16 }, new ModelIdentity { TrainSize = 32 }));
        var img = TestImages.Shape(width, height, seed: 2);
        using var whole = Translator.Open(model, Cpu);
        var expected = whole.Translate(img).Pixels;

        var notes = new List<string>();
        using var exact = Translator.Open(model, Cpu with { Tile = tile, TileOverlap = 4, TileNorm = TileNorm.Exact });
        exact.Note = notes.Add;
        var actual = exact.Translate(img).Pixels;
        using var plain = Translator.Open(model, Cpu with { Tile = tile, TileOverlap = 4, TileNorm = TileNorm.Tile });
        double plainMean = TestImages.MeanDifference(expected, plain.Translate(img).Pixels) * 4 / 3;

        double mean = TestImages.MeanDifference(expected, actual) * 4 / 3;
        int max = TestImages.MaxDifference(expected, actual);
        Console.WriteLine($"{arch} {upsample} fp16={fp16} residual={residual} {width}x{height} tile {tile}: exact mean {mean:0.0000} max {max}, per tile mean {plainMean:0.000}; {string.Join(" | ", notes)}");
        Assert.DoesNotContain(notes, n => n.Contains("cannot run segment by segment"));
        Assert.True(mean <= 1 && max <= 8, $"exact: mean {mean:0.0000}, max {max}");
        Assert.True(mean <= (fp16 ? 0.2 : 0.05), $"exact should be float rounding: mean {mean:0.0000}");
        Assert.True(plainMean > 5 * mean + 0.5, $"per-tile statistics ({plainMean:0.000}) should be far off where exact ({mean:0.0000}) is not");
    }
}
