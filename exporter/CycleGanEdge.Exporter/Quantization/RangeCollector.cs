namespace CycleGanEdge.Exporter.Quantization;

public enum CalibrationMethod { MinMax, Percentile }

/// <summary>The value range an activation is quantized over.</summary>
public readonly record struct ValueRange(float Min, float Max);

/// <summary>
/// The values one tensor takes over the calibration set. Min/max need one pass; a percentile needs a second
/// pass that fills a histogram over the first pass's [min, max] (the values of every image pooled).
/// </summary>
public sealed class RangeCollector
{
    /// <summary>Fine enough that one bin is a small part of the range even with a far outlier.</summary>
    public const int Bins = 1 << 16;

    private long[]? _histogram;
    private long _count;

    public float Min { get; private set; } = float.PositiveInfinity;
    public float Max { get; private set; } = float.NegativeInfinity;
    public bool HasValues => Min <= Max;

    /// <summary>First pass: widen the range to cover these values.</summary>
    public void ObserveRange(ReadOnlySpan<float> values)
    {
        float min = Min, max = Max;
        foreach (float v in values)
        {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        Min = min;
        Max = max;
    }

    /// <summary>Second pass: count the values into the histogram over the first pass's range.</summary>
    public void ObserveHistogram(ReadOnlySpan<float> values)
    {
        if (!HasValues) throw new InvalidOperationException("ObserveRange must see values before ObserveHistogram");
        _histogram ??= new long[Bins];
        double width = Max - Min;
        double toBin = width > 0 ? Bins / width : 0;
        float min = Min;
        foreach (float v in values)
        {
            int bin = (int)((v - min) * toBin);
            _histogram[Math.Clamp(bin, 0, Bins - 1)]++;
        }
        _count += values.Length;
    }

    public ValueRange MinMaxRange() => HasValues ? new ValueRange(Min, Max) : throw new InvalidOperationException("no values observed");

    /// <summary>
    /// The range from the (100 - p)th to the pth percentile of the pooled values (p = 99.99 drops the lowest and the
    /// highest 0.01%), at the resolution of one bin, widened outwards: never narrower than the true percentiles.
    /// </summary>
    public ValueRange PercentileRange(double percentile)
    {
        if (percentile is <= 50 or > 100) throw new ArgumentOutOfRangeException(nameof(percentile), "percentile must be in (50, 100]");
        if (_histogram is null || _count == 0) throw new InvalidOperationException("ObserveHistogram has seen no values");
        double binWidth = ((double)Max - Min) / Bins;
        double tail = _count * (100 - percentile) / 100;
        // Lowest bin whose cumulative count passes the lower tail, and highest bin whose count from the top does.
        int lo = 0;
        for (long below = 0; lo < Bins - 1; lo++)
        {
            below += _histogram[lo];
            if (below > tail) break;
        }
        int hi = Bins - 1;
        for (long above = 0; hi > 0; hi--)
        {
            above += _histogram[hi];
            if (above > tail) break;
        }
        float min = (float)Math.Max(Min, Min + lo * binWidth);
        float max = (float)Math.Min(Max, Min + (hi + 1) * binWidth);
        return new ValueRange(min, Math.Max(min, max));
    }

    public ValueRange Range(CalibrationMethod method, double percentile) =>
        method == CalibrationMethod.MinMax ? MinMaxRange() : PercentileRange(percentile);
}
