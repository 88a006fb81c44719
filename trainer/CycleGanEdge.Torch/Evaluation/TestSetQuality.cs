using CycleGanEdge.Core.Metrics;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Torch.Data;
using CycleGanEdge.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Evaluation;

/// <summary>
/// Translation quality on the test split at one epoch; null where it was not measured.
/// PSNR/SSIM compare G_A(testA/x) with testB/x (and G_B(testB/x) with testA/x) over the names in both folders;
/// Classified* are the shares of translations a domain classifier puts in the target domain.
/// </summary>
public sealed record EpochQuality(int Pairs, double? PsnrAtoB, double? SsimAtoB, double? PsnrBtoA, double? SsimBtoA, double? ClassifiedAtoB, double? ClassifiedBtoA);

/// <summary>
/// Measures <see cref="EpochQuality"/> during training (train --eval-freq) with the runtime's metric code
/// (<see cref="ImageMetrics"/>, <see cref="DomainClassifier"/>) on the generators' outputs turned into images.
/// Test images are resized to the crop size, as the generators see them in training.
/// </summary>
public sealed class TestSetQuality : IDisposable
{
    private const int BatchSize = 8;
    private readonly List<(string Name, ByteImage Image)> _a, _b;
    private readonly HashSet<string> _paired;
    private readonly DomainClassifier? _classifier;

    private TestSetQuality(List<(string Name, ByteImage Image)> a, List<(string Name, ByteImage Image)> b, DomainClassifier? classifier)
    {
        _a = a;
        _b = b;
        _classifier = classifier;
        _paired = [.. a.Select(x => x.Name).Intersect(b.Select(x => x.Name))];
    }

    public int Pairs => _paired.Count;

    /// <summary>
    /// Null when there is nothing to measure beyond the cycle L1: no classifier and no file name in both test folders.
    /// The classifier's labels are taken in its logit order (A, B), whatever their names.
    /// </summary>
    public static TestSetQuality? Open(TrainOptions o, string? classifierPath, TextWriter log)
    {
        string dirA = Path.Combine(o.DataRoot, "testA"), dirB = Path.Combine(o.DataRoot, "testB");
        if (!Directory.Exists(dirA) || !Directory.Exists(dirB)) return null;
        var a = Load(dirA, o.InputNc, o.CropSize, o.EvalImages, log);
        var b = Load(dirB, o.OutputNc, o.CropSize, o.EvalImages, log);
        DomainClassifier? classifier = null;
        if (classifierPath is not null)
        {
            try { classifier = DomainClassifier.Open(classifierPath); }
            catch (Exception e) when (e is InvalidModelException or Runtime.ProviderUnavailableException or IOException)
            {
                throw new TrainingException($"--eval-classifier: {e.Message}", e);
            }
        }
        var quality = new TestSetQuality(a, b, classifier);
        if (quality.Pairs == 0 && classifier is null)
        {
            quality.Dispose();
            return null;
        }
        log.WriteLine($"Test-set quality every eval: {(quality.Pairs > 0 ? $"PSNR/SSIM on {quality.Pairs} pairs of same-named test images" : "no same-named test pairs")}" +
            (classifier is null ? "" : $", classifier {classifier.Labels[0]} (A) / {classifier.Labels[1]} (B) on the translations"));
        return quality;
    }

    /// <summary>A -> B always; B -> A when the model has that generator (CUT has not: its B -> A values stay empty).</summary>
    public EpochQuality Measure(ITranslationModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var fakeB = Translate(model.Generator, _a);
        var fakeA = model.GeneratorBtoA is { } gb ? Translate(gb, _b) : null;
        var truthB = _b.ToDictionary(x => x.Name, x => ToRgba(x.Image));
        var truthA = _a.ToDictionary(x => x.Name, x => ToRgba(x.Image));
        var (psnrAB, ssimAB) = Paired(_a, fakeB, truthB);
        var (psnrBA, ssimBA) = fakeA is null ? ((double?)null, (double?)null) : Paired(_b, fakeA, truthA);
        return new EpochQuality(Pairs, psnrAB, ssimAB, psnrBA, ssimBA,
            _classifier?.Rate(fakeB, 1), fakeA is null ? null : _classifier?.Rate(fakeA, 0));
    }

    private (double? Psnr, double? Ssim) Paired(List<(string Name, ByteImage Image)> inputs, List<RgbaImage> translated, Dictionary<string, RgbaImage> truth)
    {
        if (Pairs == 0) return (null, null);
        double psnr = 0, ssim = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            if (!_paired.Contains(inputs[i].Name)) continue;
            var target = truth[inputs[i].Name];
            // Identical images have infinite PSNR; cap at 100 dB so the mean stays a number.
            psnr += Math.Min(100, ImageMetrics.Psnr(translated[i], target));
            ssim += ImageMetrics.Ssim(translated[i], target);
        }
        return (psnr / Pairs, ssim / Pairs);
    }

    /// <summary>Each image through <paramref name="generator"/> in eval mode, as 8-bit images.</summary>
    private static List<RgbaImage> Translate(nn.Module<Tensor, Tensor> generator, List<(string Name, ByteImage Image)> images)
    {
        var result = new List<RgbaImage>(images.Count);
        var device = generator.parameters().First().device;
        generator.eval();
        try
        {
            for (int start = 0; start < images.Count; start += BatchSize)
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                int n = Math.Min(BatchSize, images.Count - start);
                var first = images[start].Image;
                int per = first.Channels * first.Width * first.Height;
                var data = new float[n * per];
                for (int i = 0; i < n; i++) images[start + i].Image.WriteChw(data.AsSpan(i * per, per));
                var output = generator.forward(tensor(data, [n, first.Channels, first.Height, first.Width]).to(device));
                var bytes = ((output.clamp(-1, 1) + 1) * 127.5).round().to(ScalarType.Byte).permute(0, 2, 3, 1).contiguous().cpu();
                int c = (int)bytes.shape[3], h = (int)bytes.shape[1], w = (int)bytes.shape[2];
                var hwc = bytes.data<byte>().ToArray();
                for (int i = 0; i < n; i++)
                    result.Add(ToRgba(new ByteImage(w, h, c, hwc[(i * h * w * c)..((i + 1) * h * w * c)])));
            }
        }
        finally
        {
            generator.train();
        }
        return result;
    }

    /// <summary>Grey or RGB bytes as an opaque RGBA image (grey repeated to R, G and B).</summary>
    private static RgbaImage ToRgba(ByteImage image)
    {
        var rgba = new RgbaImage(image.Width, image.Height);
        for (int p = 0; p < image.Width * image.Height; p++)
        {
            for (int k = 0; k < 3; k++) rgba.Pixels[p * 4 + k] = image.Data[p * image.Channels + (image.Channels == 1 ? 0 : k)];
            rgba.Pixels[p * 4 + 3] = 255;
        }
        return rgba;
    }

    private static List<(string Name, ByteImage Image)> Load(string dir, int channels, int size, int max, TextWriter log)
    {
        var images = new List<(string Name, ByteImage Image)>();
        foreach (string file in ImageFolder.List(dir, max))
        {
            try
            {
                var img = ByteImage.FromRgba(ImageCodec.Decode(file), channels);
                if (img.Width != size || img.Height != size) img = BicubicResize.Resize(img, size, size);
                images.Add((Path.GetFileNameWithoutExtension(file), img));
            }
            catch (ImageDecodeException e)
            {
                log.WriteLine($"warning: skipped {e.Message}");
            }
        }
        return images;
    }

    public void Dispose() => _classifier?.Dispose();
}
