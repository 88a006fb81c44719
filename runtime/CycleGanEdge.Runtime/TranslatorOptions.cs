using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime;

/// <summary>Which statistics the instance norms of a tiled image use (docs/onnx-contract.md, runtime/README.md).</summary>
public enum TileNorm
{
    /// <summary>
    /// The whole image's, exactly, in one pass: the graph cut at its instance norms and run segment by segment, tile by tile
    /// (Segments/SegmentRunner); models that cannot be cut fall back to <see cref="Image"/>.
    /// </summary>
    Exact,
    /// <summary>The whole image's: every layer's statistics accumulated over all tiles, pass after pass, until they settle.</summary>
    Image,
    /// <summary>A downscaled thumbnail's (Thumbnail Instance Normalization): one extra small run, then one pass of tiles.</summary>
    Thumbnail,
    /// <summary>Each tile's own (plain tiling: colours can jump at tile borders).</summary>
    Tile,
}

public sealed record TranslatorOptions
{
    /// <summary>auto (best available), cpu, cuda or directml.</summary>
    public string Provider { get; init; } = "auto";
    public int DeviceId { get; init; }
    /// <summary>Threads ONNX Runtime uses inside one operator; 0 lets it decide.</summary>
    public int Threads { get; init; }
    /// <summary>Images whose longer side is above this are scaled down first (0 = never). Applies to <see cref="Translator.Translate(Core.Imaging.RgbaImage)"/>.</summary>
    public int MaxSide { get; init; }
    /// <summary>
    /// Tile side in pixels for images larger than this; 0 = always the whole image; null (auto) = tiles only when the
    /// whole image would need more than <see cref="MaxMemory"/>, then the largest tile that fits it.
    /// </summary>
    public int? Tile { get; init; }
    /// <summary>Pixels each tile shares with its neighbour (rounded up to the model's spatial multiple); blended with a linear ramp.</summary>
    public int TileOverlap { get; init; } = 64;
    /// <summary>Memory budget in bytes for one model run (estimated, <see cref="Translator.EstimatedBytes"/>); decides automatic tiling.</summary>
    public long MaxMemory { get; init; } = DefaultMaxMemory;
    public TileNorm TileNorm { get; init; } = TileNorm.Exact;
    /// <summary>Folder of the scratch files that hold <see cref="TileNorm.Exact"/>'s stored activations (null: the system temp folder).</summary>
    public string? ScratchFolder { get; init; }
    /// <summary>
    /// Store <see cref="TileNorm.Exact"/>'s activations as fp16: half the scratch, at a small cost in exactness
    /// (benchmarks/TILES.md: within a level of fp32 scratch on the shipped models).
    /// </summary>
    public bool ScratchHalf { get; init; }
    /// <summary>
    /// Video --temporal: frames that run in <see cref="TileNorm.Exact"/> tiles normalise with the statistics measured on the
    /// previous frame of the same size (one pass through all segments per tile, nothing stored between segments); the first
    /// frame runs exactly. An approximation where the content changes (benchmarks/TILES.md, Video).
    /// </summary>
    public bool CarryStatistics { get; init; }
    /// <summary>The alpha of RGBA output (translate --alpha): the shape the model drew, the input's, or opaque.</summary>
    public OutputAlpha Alpha { get; init; } = OutputAlpha.Model;
    /// <summary>Save the optimised graph beside the model and load it next time.</summary>
    public bool CacheOptimizedModel { get; init; }
    /// <summary>Write ONNX Runtime's per-operator profile (JSON) to files starting with this path (bench --profile).</summary>
    public string? ProfilePrefix { get; init; }

    /// <summary>A quarter of the memory this process may use (the machine's, or the container's limit).</summary>
    public static long DefaultMaxMemory { get; } = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4;
}
