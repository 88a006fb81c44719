using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests.Cli;

/// <summary>
/// Issue 27: a model trained on images composited onto white gets RGBA input composited onto white by the runtime,
/// so raw RGBA files (garbage RGB under alpha 0) translate like their composited copies. The output's alpha is the shape
/// the model drew (default), the input's (--alpha input) or opaque (--alpha opaque). Files without the preprocessing
/// keys keep the old behaviour and info warns.
/// </summary>
public class AlphaTests
{
    /// <summary>The keys the exporter writes for a model trained on a cyclegan-train data set.</summary>
    internal static readonly IReadOnlyDictionary<string, string?> CompositeOnWhite = new Dictionary<string, string?>
    {
        [ModelContract.AlphaKey] = ModelContract.AlphaComposite,
        [ModelContract.BackgroundKey] = "#ffffff",
        [ModelContract.ColorSpaceKey] = ModelContract.ColorSpaceSrgb,
        [ModelContract.TrainPreprocessKey] = "resize_and_crop",
        [ModelContract.LoadSizeKey] = "72",
    };

    // Instance norm after the first convolution: the whole image's statistics, background included, reach every pixel.
    private static readonly string Composite = TestModels.Save(TestModels.SmallConvNet("instance", seed: 3, metadata: CompositeOnWhite));
    private static readonly string Unrecorded = TestModels.Save(TestModels.SmallConvNet("instance", seed: 3));

    /// <summary>Raw shapes in in/raw, their composited copies in in/white (file names shared).</summary>
    private static (string Dir, RgbaImage[] Shapes) Inputs()
    {
        string dir = TestFiles.TempFolder();
        Directory.CreateDirectory(Path.Combine(dir, "raw"));
        Directory.CreateDirectory(Path.Combine(dir, "white"));
        var shapes = new RgbaImage[4];
        for (int i = 0; i < shapes.Length; i++)
        {
            shapes[i] = TestImages.Shape(40 + 4 * i, 36, seed: i);
            File.WriteAllBytes(Path.Combine(dir, "raw", $"s{i}.png"), ImageCodec.Encode(shapes[i], ImageFormat.Png));
            File.WriteAllBytes(Path.Combine(dir, "white", $"s{i}.png"), ImageCodec.Encode(TestImages.OnWhite(shapes[i]), ImageFormat.Png));
        }
        return (dir, shapes);
    }

    private static async Task<string> Translate(string model, string dir, string from, string to, params string[] extra)
    {
        string output = Path.Combine(dir, to);
        var r = await CliRunner.RunAsync(["translate", "-m", model, Path.Combine(dir, from), "-o", output, .. extra]);
        Assert.True(r.ExitCode == 0, r.Error);
        return output;
    }

    private static RgbaImage Read(string folder, int i) => ImageCodec.Decode(Path.Combine(folder, $"s{i}.png"));

    [Fact]
    public async Task Raw_rgba_translates_like_its_copy_composited_onto_white_and_alpha_input_keeps_its_alpha()
    {
        var (dir, shapes) = Inputs();
        string raw = await Translate(Composite, dir, "raw", "out-raw", "--alpha", "input");
        string white = await Translate(Composite, dir, "white", "out-white");
        string oldRaw = await Translate(Unrecorded, dir, "raw", "old-raw");
        string oldWhite = await Translate(Unrecorded, dir, "white", "old-white");
        for (int i = 0; i < shapes.Length; i++)
        {
            var fromRaw = Read(raw, i);
            Assert.True(fromRaw.HasAlpha);
            for (int p = 3; p < shapes[i].Pixels.Length; p += 4)
                Assert.Equal(shapes[i].Pixels[p], fromRaw.Pixels[p]);
            Assert.InRange(TestImages.MeanDifferenceInside(shapes[i], fromRaw, Read(white, i)), 0, 1);
            // The garbage matters: without the keys the runtime feeds it as it is, and the shape comes out otherwise.
            Assert.True(TestImages.MeanDifferenceInside(shapes[i], Read(oldRaw, i), Read(oldWhite, i)) > 5,
                $"s{i}: the background should change an instance-normalised network's output");
        }
    }

    [Fact]
    public async Task Alpha_opaque_writes_opaque_images_equal_to_the_composited_copies_translation()
    {
        var (dir, shapes) = Inputs();
        string flat = await Translate(Composite, dir, "raw", "out-flat", "--alpha", "opaque");
        string white = await Translate(Composite, dir, "white", "out-white");
        for (int i = 0; i < shapes.Length; i++)
        {
            var image = Read(flat, i);
            Assert.False(image.HasAlpha);
            for (int p = 3; p < image.Pixels.Length; p += 4) Assert.Equal(255, image.Pixels[p]);
            Assert.InRange(TestImages.MeanDifference(image.Pixels, Read(white, i).Pixels), 0, 1);
        }
    }

    [Fact]
    public async Task By_default_the_output_is_the_shape_the_model_drew_and_laid_on_white_equals_the_opaque_output()
    {
        var (dir, shapes) = Inputs();
        string drawn = await Translate(Composite, dir, "raw", "out-model");
        string flat = await Translate(Composite, dir, "raw", "out-flat", "--alpha", "opaque");
        for (int i = 0; i < shapes.Length; i++)
        {
            var image = Read(drawn, i);
            Assert.True(image.HasAlpha);
            int extended = 0;
            for (int p = 3; p < image.Pixels.Length; p += 4)
            {
                Assert.True(image.Pixels[p] >= shapes[i].Pixels[p], $"s{i}: alpha below the input's at pixel {p / 4}");
                if (image.Pixels[p] > shapes[i].Pixels[p]) extended++;
            }
            // A random network draws off the white background almost everywhere, so the shape grows.
            Assert.True(extended > 0, $"s{i}: the model's drawing outside the input's shape was cut away");
            Assert.InRange(TestImages.MaxDifference(TestImages.OnWhite(image).Pixels, Read(flat, i).Pixels), 0, 1);
        }
    }

    [Fact]
    public void Tiles_and_batches_composite_too()
    {
        var shapes = Enumerable.Range(0, 3).Select(i => TestImages.Shape(48, 48, seed: 10 + i)).ToList();
        // The input's alpha, so the colours inside the shape are the model's as they are (not un-composited).
        using var whole = Translator.Open(Composite, new TranslatorOptions { Provider = "cpu", Tile = 0, Alpha = OutputAlpha.Input });
        using var tiled = Translator.Open(Composite, new TranslatorOptions { Provider = "cpu", Tile = 32, TileOverlap = 8, Alpha = OutputAlpha.Input });
        var batch = whole.TranslateBatch(shapes);
        for (int i = 0; i < shapes.Count; i++)
        {
            var expected = whole.Translate(TestImages.OnWhite(shapes[i]));
            Assert.InRange(TestImages.MeanDifferenceInside(shapes[i], batch[i], expected), 0, 1);
            // Tiled output differs from whole-image output by the tiling itself, not by the background.
            var tiledRaw = tiled.Translate(shapes[i]);
            var tiledWhite = tiled.Translate(TestImages.OnWhite(shapes[i]));
            Assert.InRange(TestImages.MeanDifferenceInside(shapes[i], tiledRaw, tiledWhite), 0, 1);
        }
    }

    [Fact]
    public async Task A_file_without_the_keys_still_translates_and_info_warns()
    {
        var (dir, shapes) = Inputs();
        string old = await Translate(Unrecorded, dir, "raw", "old");
        Assert.Equal(shapes.Length, Directory.GetFiles(old).Length);

        var info = await CliRunner.RunAsync("info", "-m", Unrecorded);
        Assert.Equal(0, info.ExitCode);
        string warning = Assert.Single(info.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"warning: {Unrecorded}: no preprocessing metadata (cyclegan.alpha", warning);
        Assert.Contains("alpha:      dropped", info.Output);

        var stamped = await CliRunner.RunAsync("info", "-m", Composite);
        Assert.Equal(0, stamped.ExitCode);
        Assert.Equal("", stamped.Error);
        Assert.Contains("alpha:      RGBA input composited onto #ffffff before the model", stamped.Output);
    }
}
