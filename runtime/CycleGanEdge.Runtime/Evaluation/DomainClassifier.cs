using System.Globalization;
using CycleGanEdge.Core.Imaging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using CycleGanEdge.Core;

namespace CycleGanEdge.Runtime.Evaluation;

/// <summary>
/// A two-domain classifier ONNX model (written by cyclegan-train classifier; keys in docs/onnx-contract.md):
/// says for each image whether it looks like domain A or domain B. Eval reports the share of translated
/// images it puts in the target domain.
/// </summary>
public sealed class DomainClassifier : IDisposable
{
    private readonly InferenceSession _session;

    private DomainClassifier(InferenceSession session, IReadOnlyList<string> labels, int imageSize)
    {
        _session = session;
        Labels = labels;
        ImageSize = imageSize;
    }

    /// <summary>Domain names in logit order: [0] is domain A, [1] domain B.</summary>
    public IReadOnlyList<string> Labels { get; }
    public int ImageSize { get; }

    public static DomainClassifier Open(string path, TranslatorOptions? options = null)
    {
        var session = SessionFactory.Create(path, options ?? new TranslatorOptions { Provider = "cpu" }, out _);
        try
        {
            var meta = session.ModelMetadata.CustomMetadataMap;
            var missing = ModelContract.ClassifierKeys.Where(k => !meta.ContainsKey(k)).ToList();
            if (missing.Count > 0)
                throw new InvalidModelException(path, $"not a domain classifier (metadata key(s) missing: {string.Join(", ", missing)}; make one with cyclegan-train classifier)");
            if (!int.TryParse(meta[ModelContract.ClassifierVersionKey], NumberStyles.Integer, CultureInfo.InvariantCulture, out int version) || version < 1 || version > ModelContract.ClassifierVersion)
                throw new InvalidModelException(path, $"classifier version '{meta[ModelContract.ClassifierVersionKey]}' is not supported (this runtime reads up to {ModelContract.ClassifierVersion})");
            var labels = meta[ModelContract.ClassifierLabelsKey].Split(',');
            if (labels.Length != 2 || labels.Any(string.IsNullOrWhiteSpace) || labels[0] == labels[1])
                throw new InvalidModelException(path, $"{ModelContract.ClassifierLabelsKey}='{meta[ModelContract.ClassifierLabelsKey]}' must name two different domains");
            if (!int.TryParse(meta[ModelContract.ClassifierImageSizeKey], NumberStyles.Integer, CultureInfo.InvariantCulture, out int size) || size < 8 || size > 4096)
                throw new InvalidModelException(path, $"{ModelContract.ClassifierImageSizeKey}='{meta[ModelContract.ClassifierImageSizeKey]}' is not a size in 8..4096");
            if (meta[ModelContract.ClassifierPixelRangeKey] != "-1,1")
                throw new InvalidModelException(path, $"{ModelContract.ClassifierPixelRangeKey}='{meta[ModelContract.ClassifierPixelRangeKey]}' is not supported (only -1,1)");
            if (!session.InputMetadata.ContainsKey(ModelContract.InputName) || !session.OutputMetadata.ContainsKey(ModelContract.ClassifierOutputName))
                throw new InvalidModelException(path, $"a classifier needs an input '{ModelContract.InputName}' and an output '{ModelContract.ClassifierOutputName}'");
            return new DomainClassifier(session, labels, size);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The classifier's input for one image: resized to size x size (unless it is already), RGB scaled to [-1, 1],
    /// alpha dropped, as CHW floats. The trainer prepares its training images with this too.
    /// </summary>
    public static void WriteInput(RgbaImage image, int size, Span<float> chw)
    {
        if (image.Width != size || image.Height != size) image = Translator.Resize(image, size, size);
        int plane = size * size;
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                chw[c * plane + i] = image.Pixels[i * 4 + c] / 127.5f - 1f;
    }

    /// <summary>The domain's label index: its name, or "A" / "B".</summary>
    public int LabelIndex(string domain)
    {
        for (int i = 0; i < Labels.Count; i++)
            if (string.Equals(Labels[i], domain, StringComparison.OrdinalIgnoreCase)) return i;
        return domain switch
        {
            "A" or "a" => 0,
            "B" or "b" => 1,
            _ => throw new ArgumentException($"the classifier knows the domains '{Labels[0]}' (A) and '{Labels[1]}' (B), not '{domain}'"),
        };
    }

    /// <summary>Logits [A, B] per image, in order.</summary>
    public float[][] Logits(IReadOnlyList<RgbaImage> images, int batchSize = 32)
    {
        var result = new float[images.Count][];
        int s = ImageSize, per = 3 * s * s;
        for (int start = 0; start < images.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, images.Count - start);
            var data = new float[n * per];
            for (int b = 0; b < n; b++) WriteInput(images[start + b], s, data.AsSpan(b * per, per));
            using var input = OrtValue.CreateTensorValueFromMemory(data, [n, 3, s, s]);
            using var run = new RunOptions();
            using var outputs = _session.Run(run, [ModelContract.InputName], [input], [ModelContract.ClassifierOutputName]);
            var logits = outputs[0].GetTensorDataAsSpan<float>();
            for (int b = 0; b < n; b++) result[start + b] = logits.Slice(b * 2, 2).ToArray();
        }
        return result;
    }

    /// <summary>Share of <paramref name="images"/> classified as label <paramref name="label"/> (ties go to A).</summary>
    public double Rate(IReadOnlyList<RgbaImage> images, int label) => Hits(images, label).Average(hit => hit ? 1.0 : 0.0);

    /// <summary>For each image, whether it is classified as label <paramref name="label"/> (ties go to A).</summary>
    public bool[] Hits(IReadOnlyList<RgbaImage> images, int label)
    {
        if (images.Count == 0) throw new ArgumentException("no images to classify");
        return [.. Logits(images).Select(l => (l[1] > l[0] ? 1 : 0) == label)];
    }

    public void Dispose() => _session.Dispose();
}
