using System.Globalization;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Torch.Data;

/// <summary>
/// What training did to images before the network, recorded in every checkpoint's header (its Extra entries) so the
/// exporter can write it into the model's metadata (docs/onnx-contract.md, "Preprocessing").
/// </summary>
public static class TrainingPreprocessing
{
    /// <summary>The sentence <c>cyclegan-train data</c> writes into DATASET.md: its images were composited onto white.</summary>
    public const string CompositedOnWhiteNote = "Images are RGB PNGs; transparency is composited onto white, because the models take 3 channels " +
                                                "and the colour under transparent pixels is arbitrary (often black).";

    public const string DatasetCard = "DATASET.md";

    private const string AlphaEntry = "alpha", BackgroundEntry = "background", PreprocessEntry = "preprocess", LoadSizeEntry = "load_size";

    /// <summary>
    /// A dataset made by <c>cyclegan-train data</c> (its DATASET.md says so) holds images composited onto white. Any
    /// other data goes through the loader as it is, and the loader drops alpha (<see cref="ByteImage.FromRgba"/>, like
    /// the reference's convert('RGB')).
    /// </summary>
    public static ImagePreprocessing Of(string dataRoot, string preprocess, int loadSize)
    {
        string card = Path.Combine(dataRoot, DatasetCard);
        bool composited = File.Exists(card) && File.ReadAllText(card).Contains(CompositedOnWhiteNote, StringComparison.Ordinal);
        return composited
            ? ImagePreprocessing.CompositeOnWhite(preprocess, loadSize)
            : new ImagePreprocessing { Alpha = ModelContract.AlphaDrop, TrainPreprocess = preprocess, LoadSize = loadSize };
    }

    public static void AddTo(IDictionary<string, string> extra, ImagePreprocessing p)
    {
        extra[AlphaEntry] = p.Alpha;
        extra[BackgroundEntry] = p.Background;
        extra[PreprocessEntry] = p.TrainPreprocess;
        extra[LoadSizeEntry] = p.LoadSize.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The record of a checkpoint header; null for checkpoints written before it existed (or a damaged one).</summary>
    public static ImagePreprocessing? From(IReadOnlyDictionary<string, string> extra)
    {
        if (!extra.TryGetValue(AlphaEntry, out var alpha)) return null;
        var meta = new Dictionary<string, string>
        {
            [ModelContract.AlphaKey] = alpha,
            [ModelContract.BackgroundKey] = extra.GetValueOrDefault(BackgroundEntry, ""),
            [ModelContract.ColorSpaceKey] = ModelContract.ColorSpaceSrgb,
            [ModelContract.TrainPreprocessKey] = extra.GetValueOrDefault(PreprocessEntry, ""),
            [ModelContract.LoadSizeKey] = extra.GetValueOrDefault(LoadSizeEntry, ""),
        };
        return ImagePreprocessing.FromMetadata(meta, out _);
    }
}
