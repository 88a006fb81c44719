using System.Security.Cryptography;
using CycleGanEdge.Core.Imaging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using CycleGanEdge.Core;

namespace CycleGanEdge.Runtime.Evaluation;

public enum FeatureNormalization
{
    /// <summary>x/255, minus ImageNet mean (0.485, 0.456, 0.406), over std (0.229, 0.224, 0.225).</summary>
    Imagenet,
    /// <summary>x/127.5 − 1.</summary>
    MinusOneToOne,
    /// <summary>
    /// pytorch-fid's protocol, for numbers comparable with published FIDs: bilinear resize in float (torch's
    /// interpolate, align_corners false, no antialiasing) to the input size, then x/127.5 − 1.
    /// </summary>
    PytorchFid,
    /// <summary>RGB planes in 0–255, for a network whose own preprocessing model runs first (the ResNet-18 package's).</summary>
    Rgb0To255,
}

/// <summary>
/// Runs a user-supplied ONNX feature network (e.g. an Inception exported to ONNX) on RGB images resized
/// to a square input and returns one float vector per image from a chosen graph output; 4-D outputs
/// [N, C, H, W] are averaged over H and W.
/// </summary>
public sealed class FeatureExtractor : IDisposable
{
    private static readonly float[] ImagenetMean = [0.485f, 0.456f, 0.406f], ImagenetStd = [0.229f, 0.224f, 0.225f];
    private readonly InferenceSession _session;
    private readonly string _inputName;
    private readonly InferenceSession? _preprocess;

    /// <summary>The report's name for the Fréchet distance of the default network: it is not Inception's FID.</summary>
    public const string ResNet18DistanceName = "FD (ResNet-18 features)";
    private const string ResNet18Package = "Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1";

    private FeatureExtractor(InferenceSession session, string inputName, string layer, int imageSize, FeatureNormalization normalization, int batch, string sha256,
        InferenceSession? preprocess)
    {
        _session = session;
        _inputName = inputName;
        _preprocess = preprocess;
        Layer = layer;
        ImageSize = imageSize;
        Normalization = normalization;
        BatchSize = batch;
        ModelSha256 = sha256;
    }

    public string Layer { get; }
    public int ImageSize { get; }
    public FeatureNormalization Normalization { get; }
    public int BatchSize { get; }
    public string ModelSha256 { get; }

    /// <summary>
    /// Folder holding the ImageNet ResNet-18 of the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (MIT):
    /// DnnImageModels beside the app (cyclegan-run built with -p:WithResNet18Features=true), else the package in the NuGet
    /// packages folder (NUGET_PACKAGES or ~/.nuget/packages); null when neither has it. Not part of the lean deployable (64 MB).
    /// </summary>
    public static string? FindResNet18()
    {
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string[] candidates =
        [
            Path.Combine(AppContext.BaseDirectory, "DnnImageModels"),
            Path.Combine(packages, "microsoft.ml.dnnimagefeaturizer.resnet18", "0.23.1", "tools", "DnnImageModels"),
        ];
        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "ResNet18Onnx", "ResNet18.onnx"))
            && File.Exists(Path.Combine(d, "ResNetPrepOnnx", "ResNetPreprocess.onnx")));
    }

    /// <summary>Why <see cref="FindResNet18"/> found nothing, and what to do.</summary>
    public static string ResNet18Missing =>
        $"no feature network: pass --features MODEL.onnx, or build cyclegan-run with -p:WithResNet18Features=true (adds the 64 MB ImageNet ResNet-18 of {ResNet18Package})";

    /// <summary>
    /// The package's ResNet-18 as the package uses it: RGB planes in 0–255 at 224x224 (resized whole, Skia Mitchell
    /// cubic) go through its ResNetPreprocess.onnx (channels reordered to BGR, minus a 224x224 mean image whose
    /// channel means are B 103.06, G 115.90, R 123.15), then ResNet18.onnx; features: Pooling395_Output_0, 512 values.
    /// </summary>
    public static FeatureExtractor OpenResNet18(string dir, TranslatorOptions? options = null) =>
        Open(Path.Combine(dir, "ResNet18Onnx", "ResNet18.onnx"), "Pooling395_Output_0", 224, FeatureNormalization.Rgb0To255, 1, options,
            Path.Combine(dir, "ResNetPrepOnnx", "ResNetPreprocess.onnx"));

    /// <summary>
    /// Opens the network; <paramref name="layer"/> names a graph output (null: the first one). <paramref name="preprocessPath"/>:
    /// a one-input, one-output model run on the images before the network.
    /// </summary>
    public static FeatureExtractor Open(string path, string? layer, int imageSize, FeatureNormalization normalization, int batchSize = 16, TranslatorOptions? options = null,
        string? preprocessPath = null)
    {
        if (imageSize < 1) throw new ArgumentException("--image-size must be positive");
        options ??= new TranslatorOptions { Provider = "cpu" };
        var session = SessionFactory.Create(path, options, out _);
        InferenceSession? preprocess = null;
        try
        {
            if (preprocessPath is not null)
            {
                preprocess = SessionFactory.Create(preprocessPath, options, out _);
                if (preprocess.InputMetadata.Count != 1 || preprocess.OutputMetadata.Count != 1)
                    throw new InvalidModelException(preprocessPath, "a preprocessing model needs exactly one input and one output");
            }
            if (session.InputMetadata.Count != 1)
                throw new InvalidModelException(path, $"a feature network needs exactly one input, this one has {session.InputMetadata.Count}");
            var (inputName, input) = session.InputMetadata.First();
            if (input.ElementDataType != TensorElementType.Float || input.Dimensions.Length != 4 || (input.Dimensions[1] > 0 && input.Dimensions[1] != 3))
                throw new InvalidModelException(path, $"input '{inputName}' must be float32 [N, 3, H, W]");
            if (input.Dimensions[2] > 0 && input.Dimensions[2] != imageSize || input.Dimensions[3] > 0 && input.Dimensions[3] != imageSize)
                throw new InvalidModelException(path, $"input '{inputName}' is fixed at {input.Dimensions[2]}x{input.Dimensions[3]}; pass --image-size {input.Dimensions[2]}");
            layer ??= session.OutputMetadata.Keys.First();
            if (!session.OutputMetadata.ContainsKey(layer))
                throw new InvalidModelException(path, $"no output named '{layer}' (outputs: {string.Join(", ", session.OutputMetadata.Keys)})");
            int batch = input.Dimensions[0] > 0 ? input.Dimensions[0] : Math.Max(1, batchSize);
            string sha;
            using (var file = File.OpenRead(path)) sha = Convert.ToHexStringLower(SHA256.HashData(file));
            return new FeatureExtractor(session, inputName, layer, imageSize, normalization, batch, sha, preprocess);
        }
        catch
        {
            session.Dispose();
            preprocess?.Dispose();
            throw;
        }
    }

    /// <summary>Feature vectors of <paramref name="images"/>, in order; <paramref name="progress"/> gets the count done.</summary>
    public List<float[]> Extract(IReadOnlyList<RgbaImage> images, Action<int>? progress = null)
    {
        var features = new List<float[]>(images.Count);
        int s = ImageSize, plane = s * s;
        for (int start = 0; start < images.Count; start += BatchSize)
        {
            int n = Math.Min(BatchSize, images.Count - start);
            // A fixed batch dimension is filled up with copies of the last image; their features are dropped.
            int runBatch = n;
            if (BatchSize > 1 && _session.InputMetadata[_inputName].Dimensions[0] > 0) runBatch = BatchSize;
            var data = new float[runBatch * 3 * plane];
            for (int b = 0; b < runBatch; b++)
            {
                var img = images[start + Math.Min(b, n - 1)];
                var planes = data.AsSpan(b * 3 * plane, 3 * plane);
                if (Normalization == FeatureNormalization.PytorchFid)
                {
                    BilinearPlanes(img, s, planes);
                    for (int i = 0; i < planes.Length; i++) planes[i] = planes[i] / 127.5f - 1f;
                    continue;
                }
                if (img.Width != s || img.Height != s) img = Translator.Resize(img, s, s);
                for (int i = 0; i < plane; i++)
                    for (int c = 0; c < 3; c++)
                    {
                        float v = img.Pixels[i * 4 + c];
                        planes[c * plane + i] = Normalization switch
                        {
                            FeatureNormalization.Imagenet => (v / 255f - ImagenetMean[c]) / ImagenetStd[c],
                            FeatureNormalization.Rgb0To255 => v,
                            _ => v / 127.5f - 1f,
                        };
                    }
            }
            using var input = OrtValue.CreateTensorValueFromMemory(data, [runBatch, 3, s, s]);
            using var run = new RunOptions();
            using var prepared = _preprocess?.Run(run, [_preprocess.InputMetadata.Keys.First()], [input], [_preprocess.OutputMetadata.Keys.First()]);
            using var outputs = _session.Run(run, [_inputName], [prepared is null ? input : prepared[0]], [Layer]);
            var output = outputs[0];
            long[] shape = output.GetTensorTypeAndShape().Shape;
            ReadOnlySpan<float> values = output.GetTensorDataAsSpan<float>();
            long perImage = shape.Skip(1).Aggregate(1L, (a, d) => a * d);
            int channels = (int)shape[1];
            long spatial = perImage / channels;
            for (int b = 0; b < n; b++)
            {
                var v = new float[shape.Length == 4 ? channels : perImage];
                if (shape.Length == 4)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        double sum = 0;
                        var block = values.Slice((int)(b * perImage + c * spatial), (int)spatial);
                        foreach (float x in block) sum += x;
                        v[c] = (float)(sum / spatial);
                    }
                }
                else
                {
                    values.Slice((int)(b * perImage), (int)perImage).CopyTo(v);
                }
                features.Add(v);
            }
            progress?.Invoke(features.Count);
        }
        return features;
    }

    /// <summary>
    /// torch.nn.functional.interpolate(mode="bilinear", align_corners=False) of the RGB channels, as float 0–255 planes
    /// [3, s, s]: source coordinate (d + 0.5) * in/out − 0.5, clamped at 0, neighbours clamped at the last pixel.
    /// </summary>
    public static void BilinearPlanes(RgbaImage img, int s, Span<float> planes)
    {
        int w = img.Width, h = img.Height;
        for (int y = 0; y < s; y++)
        {
            float fy = Math.Max((y + 0.5f) * h / s - 0.5f, 0f);
            int y0 = Math.Min((int)fy, h - 1), y1 = Math.Min(y0 + 1, h - 1);
            float wy = fy - y0;
            for (int x = 0; x < s; x++)
            {
                float fx = Math.Max((x + 0.5f) * w / s - 0.5f, 0f);
                int x0 = Math.Min((int)fx, w - 1), x1 = Math.Min(x0 + 1, w - 1);
                float wx = fx - x0;
                for (int c = 0; c < 3; c++)
                {
                    float top = img.Pixels[(y0 * w + x0) * 4 + c] * (1 - wx) + img.Pixels[(y0 * w + x1) * 4 + c] * wx;
                    float bottom = img.Pixels[(y1 * w + x0) * 4 + c] * (1 - wx) + img.Pixels[(y1 * w + x1) * 4 + c] * wx;
                    planes[(c * s + y) * s + x] = top * (1 - wy) + bottom * wy;
                }
            }
        }
    }

    public void Dispose()
    {
        _session.Dispose();
        _preprocess?.Dispose();
    }
}
