namespace CycleGanEdge.Serve;

/// <summary>The ready configuration of a service, made from the command line before anything starts (<see cref="Program"/>).</summary>
public sealed record ServeSettings
{
    /// <summary>Model files by the name used in the URL (the file name without .onnx).</summary>
    public required IReadOnlyDictionary<string, string> Models { get; init; }
    public string Urls { get; init; } = DefaultUrls;
    /// <summary>Required on every route but health and the page when set.</summary>
    public string? ApiKey { get; init; }
    public string Provider { get; init; } = "auto";
    public int Sessions { get; init; } = Environment.ProcessorCount;
    public int Threads { get; init; } = 1;
    public int MaxBatch { get; init; } = 8;
    public TimeSpan MaxQueueDelay { get; init; } = TimeSpan.Zero;
    /// <summary>Translate requests admitted at once (waiting or running); more are answered 503 with Retry-After.</summary>
    public int MaxQueue { get; init; } = 64;
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public long MaxBodyBytes { get; init; } = 16L << 20;
    public long MaxPixels { get; init; } = DefaultMaxPixels;
    public int MaxSide { get; init; }
    /// <summary>The alpha of RGBA answers, as translate --alpha.</summary>
    public CycleGanEdge.Core.Imaging.OutputAlpha Alpha { get; init; } = CycleGanEdge.Core.Imaging.OutputAlpha.Model;

    public const string DefaultUrls = "http://127.0.0.1:8080";
    public const string ApiKeyVariable = "CYCLEGAN_API_KEY";
    /// <summary>4096 x 4096: below translate's 100 million, because a service holds many images at once (docs/user-guide.md, "Serving").</summary>
    public const long DefaultMaxPixels = 4096L * 4096;
}
