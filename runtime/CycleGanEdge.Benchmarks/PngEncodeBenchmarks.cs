using BenchmarkDotNet.Attributes;
using SkiaSharp;

namespace CycleGanEdge.Benchmarks;

/// <summary>PNG zlib level: 6 (zlib's default) against 1 and 2 (the level ImageCodec uses), 256x256 photo-like RGBA.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class PngEncodeBenchmarks
{
    private const int Side = 256;
    private SKBitmap _bitmap = null!;

    [GlobalSetup]
    public void Setup()
    {
        // Smooth gradients plus mild noise: compresses like a generated image, unlike pure noise.
        _bitmap = new SKBitmap(new SKImageInfo(Side, Side, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var random = new Random(1);
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
                _bitmap.SetPixel(x, y, new SKColor((byte)(x + random.Next(8)), (byte)(y + random.Next(8)), (byte)((x + y) / 2), 255));
    }

    [Params(1, 2)]
    public int CandidateLevel { get; set; }

    [Benchmark(Baseline = true)]
    public long Level6() => Encode(6);

    [Benchmark]
    public long Candidate() => Encode(CandidateLevel);

    private long Encode(int level)
    {
        using var pixmap = _bitmap.PeekPixels() ?? throw new InvalidOperationException("bitmap has no pixels");
        using var data = pixmap.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, level)) ?? throw new InvalidOperationException("PNG encode failed");
        return data.Size;
    }

    [GlobalCleanup]
    public void Cleanup() => _bitmap.Dispose();
}
