using System.Security.Cryptography;
using CycleGanEdge.Runtime.Imaging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CycleGanEdge.Runtime.Evaluation;

public enum FeatureNormalization
{
    /// <summary>x/255, minus ImageNet mean (0.485, 0.456, 0.406), over std (0.229, 0.224, 0.225).</summary>
    Imagenet,
    /// <summary>x/127.5 − 1.</summary>
    MinusOneToOne,
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

    private FeatureExtractor(InferenceSession session, string inputName, string layer, int imageSize, FeatureNormalization normalization, int batch, string sha256)
    {
        _session = session;
        _inputName = inputName;
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

    /// <summary>Opens the network; <paramref name="layer"/> names a graph output (null: the first one).</summary>
    public static FeatureExtractor Open(string path, string? layer, int imageSize, FeatureNormalization normalization, int batchSize = 16, TranslatorOptions? options = null)
    {
        if (imageSize < 1) throw new ArgumentException("--image-size must be positive");
        var session = SessionFactory.Create(path, options ?? new TranslatorOptions { Provider = "cpu" }, out _);
        try
        {
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
            return new FeatureExtractor(session, inputName, layer, imageSize, normalization, batch, sha);
        }
        catch
        {
            session.Dispose();
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
                if (img.Width != s || img.Height != s) img = Translator.Resize(img, s, s);
                for (int i = 0; i < plane; i++)
                    for (int c = 0; c < 3; c++)
                    {
                        float v = img.Pixels[i * 4 + c];
                        data[(b * 3 + c) * plane + i] = Normalization == FeatureNormalization.Imagenet
                            ? (v / 255f - ImagenetMean[c]) / ImagenetStd[c]
                            : v / 127.5f - 1f;
                    }
            }
            using var input = OrtValue.CreateTensorValueFromMemory(data, [runBatch, 3, s, s]);
            using var run = new RunOptions();
            using var outputs = _session.Run(run, [_inputName], [input], [Layer]);
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

    public void Dispose() => _session.Dispose();
}
