namespace CycleGanEdge.Runtime;

public sealed record TranslatorOptions
{
    /// <summary>auto (best available), cpu, cuda or directml.</summary>
    public string Provider { get; init; } = "auto";
    public int DeviceId { get; init; }
    /// <summary>Threads ONNX Runtime uses inside one operator; 0 lets it decide.</summary>
    public int Threads { get; init; }
    /// <summary>Images whose longer side is above this are scaled down first (0 = never). Applies to <see cref="Translator.Translate(Imaging.RgbaImage)"/>.</summary>
    public int MaxSide { get; init; }
    /// <summary>Run images larger than this many pixels per side in overlapping tiles (0 = whole image).</summary>
    public int Tile { get; init; }
    /// <summary>Pixels each tile shares with its neighbour; blended with a linear ramp.</summary>
    public int TileOverlap { get; init; } = 32;
    /// <summary>Save the optimised graph beside the model and load it next time.</summary>
    public bool CacheOptimizedModel { get; init; }
    /// <summary>Write ONNX Runtime's per-operator profile (JSON) to files starting with this path (bench --profile).</summary>
    public string? ProfilePrefix { get; init; }
}
