using CycleGanEdge.Core;
using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using CycleGanEdge.Exporter;
using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Torch.Evaluation;
using CycleGanEdge.Trainer.Commands;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.Evaluation;

/// <summary>cyclegan-train classifier on generated red-square (A) and blue-square (B) domains.</summary>
public sealed class ClassifierTests : IDisposable
{
    private readonly string _root = TempFolder.New("classifier");

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { /* temp folder: best effort */ }
    }

    /// <summary>A data root named red2blue: squares of varied size, place and shade, red in A and blue in B.</summary>
    public static string RedBlue(string parent, int train = 24, int test = 8, int size = 32)
    {
        string root = Path.Combine(parent, "red2blue");
        var random = new Random(3);
        foreach (var (folder, count) in new[] { ("trainA", train), ("trainB", train), ("testA", test), ("testB", test) })
        {
            string dir = Path.Combine(root, folder);
            Directory.CreateDirectory(dir);
            bool blue = folder.EndsWith('B');
            for (int i = 0; i < count; i++)
            {
                var image = new RgbaImage(size, size);
                int r = random.Next(size / 6, size / 3), cx = random.Next(r, size - r), cy = random.Next(r, size - r);
                byte shade = (byte)random.Next(150, 256), other = (byte)random.Next(0, 80);
                for (int y = 0; y < size; y++)
                    for (int x = 0; x < size; x++)
                    {
                        bool inside = Math.Abs(x - cx) <= r && Math.Abs(y - cy) <= r;
                        int p = (y * size + x) * 4;
                        image.Pixels[p] = inside ? (blue ? other : shade) : (byte)30;
                        image.Pixels[p + 1] = inside ? other : (byte)30;
                        image.Pixels[p + 2] = inside ? (blue ? shade : other) : (byte)30;
                        image.Pixels[p + 3] = 255;
                    }
                AtomicFile.WriteAllBytes(Path.Combine(dir, $"{i:D3}.png"), ImageCodec.Encode(image, ImageFormat.Png));
            }
        }
        return root;
    }

    private static (int Exit, string Out, string Err) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = ClassifierCommand.Create().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    private static List<RgbaImage> Images(string dir) =>
        Directory.EnumerateFiles(dir, "*.png").Order(StringComparer.Ordinal).Select(f => ImageCodec.Decode(f)).ToList();

    [Fact]
    public void Classifier_command_learns_red_vs_blue_and_writes_an_onnx_the_runtime_uses()
    {
        string data = RedBlue(_root);
        string onnx = Path.Combine(_root, "out", "classifier.onnx");
        // Colour is the only difference here, so colour augmentation (which scrambles hues) is off.
        var (exit, output, error) = Invoke("--dataroot", data, "--size", "32", "--epochs", "15", "--batch-size", "8", "--lr", "0.003",
            "--width", "8", "--seed", "1", "--threads", "1", "--colour-augment", "false", "-o", onnx);
        Assert.True(exit == 0, error + output);
        Assert.Contains("held-out accuracy 100.00 % (16 images)", output);
        Assert.Contains("logit 0 = red (A), 1 = blue (B)", output); // names from the data root red2blue
        Assert.True(new FileInfo(onnx).Length < 1_000_000);

        // The runtime reads the metadata and puts real test images in their own domain.
        using var classifier = DomainClassifier.Open(onnx);
        Assert.Equal(["red", "blue"], classifier.Labels);
        Assert.Equal(32, classifier.ImageSize);
        Assert.Equal(1.0, classifier.Rate(Images(Path.Combine(data, "testB")), classifier.LabelIndex("blue")));
        Assert.Equal(0.0, classifier.Rate(Images(Path.Combine(data, "testA")), classifier.LabelIndex("blue")));
    }

    /// <summary>
    /// The default colour augmentation is what makes the judge blind to palette: the same data and settings that
    /// reach 100 % without it stay near chance with it, because red and blue squares differ only in hue.
    /// </summary>
    [Fact]
    public void With_colour_augmentation_a_colour_only_difference_is_not_learnt()
    {
        string data = RedBlue(_root);
        var (exit, output, error) = Invoke("--dataroot", data, "--size", "32", "--epochs", "15", "--batch-size", "8", "--lr", "0.003",
            "--width", "8", "--seed", "1", "--threads", "1", "-o", Path.Combine(_root, "out", "augmented.onnx"));
        Assert.True(exit == 0, error + output);
        var match = System.Text.RegularExpressions.Regex.Match(output, @"held-out accuracy ([0-9.]+) %");
        Assert.True(match.Success, output);
        double accuracy = double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(accuracy, 0, 75);
    }

    [Fact]
    public void Onnx_logits_match_torchsharp_and_the_metadata_describes_the_input()
    {
        manual_seed(5);
        using var net = new DomainClassifierNet(width: 4);
        byte[] onnx = ClassifierExport.ToBytes(net, 24, ["gray", "color"]);
        using var inputs = rand(3, 3, 24, 24) * 2 - 1;
        double diff = ClassifierExport.CheckParity(net, onnx, inputs);
        Assert.InRange(diff, 0, ClassifierExport.ParityTolerance);

        using var session = new InferenceSession(onnx);
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal(ModelContract.ClassifierKeys.Order(), meta.Keys.Order());
        Assert.Equal("gray,color", meta[ModelContract.ClassifierLabelsKey]);
        Assert.Equal("24", meta[ModelContract.ClassifierImageSizeKey]);
        Assert.Equal("-1,1", meta[ModelContract.ClassifierPixelRangeKey]);
        Assert.Equal([-1, 3, 24, 24], session.InputMetadata[ModelContract.InputName].Dimensions);
        Assert.Equal([-1, 2], session.OutputMetadata[ModelContract.ClassifierOutputName].Dimensions);

        // A different network gives different logits: the check can fail.
        manual_seed(6);
        using var other = new DomainClassifierNet(width: 4);
        Assert.True(ClassifierExport.CheckParity(other, onnx, inputs) > ClassifierExport.ParityTolerance);
    }

    [Fact]
    public void Missing_domain_folder_and_bad_names_are_clear_errors()
    {
        string data = RedBlue(_root, train: 2, test: 0);
        Directory.Delete(Path.Combine(data, "trainB"), recursive: true);
        var (exit, _, error) = Invoke("--dataroot", data, "--size", "32", "--epochs", "1", "-o", Path.Combine(_root, "c.onnx"));
        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("trainB", error);
        Assert.DoesNotContain("   at ", error);
        Assert.False(File.Exists(Path.Combine(_root, "c.onnx")));

        (exit, _, error) = Invoke("--dataroot", data, "--phase", "test", "--domain-a", "x,y", "-o", Path.Combine(_root, "c.onnx"));
        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("no comma", error);
    }
}
