using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Torch.Training;

/// <summary>losses.png and metrics.png, drawn with ScottPlot.</summary>
public static class Plots
{
    public const string FontName = "DejaVu Sans";
    private const int Width = 1000, Height = 500, MaxPoints = 1000;
    private static readonly Lock FontLock = new();
    private static bool _fontRegistered;

    /// <summary>
    /// Skia here has no system fonts, so without a registered TTF every label silently disappears.
    /// The font ships next to the app (Fonts/DejaVuSans.ttf, see Fonts/LICENSE-DejaVu.txt).
    /// </summary>
    public static string FontPath => Path.Combine(AppContext.BaseDirectory, "Fonts", "DejaVuSans.ttf");

    /// <summary>Each loss, averaged over equal buckets of iterations so a long run stays readable.</summary>
    public static void Losses(string path, IReadOnlyList<string> names, IReadOnlyList<(long Iter, double?[] Values)> rows)
    {
        var plot = NewPlot("Training losses (bucket means)", "iteration", "loss");
        int buckets = Math.Max(1, Math.Min(MaxPoints, rows.Count));
        for (int k = 0; k < names.Count; k++)
        {
            var xs = new List<double>();
            var ys = new List<double>();
            for (int b = 0; b < buckets; b++)
            {
                int from = (int)((long)b * rows.Count / buckets), to = (int)((long)(b + 1) * rows.Count / buckets);
                double sum = 0, iterSum = 0;
                int n = 0;
                for (int i = from; i < to; i++)
                {
                    if (rows[i].Values[k] is double v && double.IsFinite(v)) { sum += v; iterSum += rows[i].Iter; n++; }
                }
                if (n > 0) { xs.Add(iterSum / n); ys.Add(sum / n); }
            }
            if (xs.Count == 0) continue;
            var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
            line.LegendText = names[k];
            line.MarkerSize = xs.Count == 1 ? 5 : 0;
        }
        Save(plot, path);
    }

    /// <summary>
    /// Test-set metrics per epoch: cycle L1, SSIM and classifier rates share the left axis (all in [0, 1]);
    /// PSNR, in dB, has the right axis. Series that were never measured are left out.
    /// </summary>
    public static void Metrics(string path, IReadOnlyList<EpochMetrics> rows)
    {
        bool hasPsnr = rows.Any(r => r.Quality?.PsnrAtoB is not null);
        var plot = NewPlot("Test-set metrics per epoch", "epoch", "cycle L1 (lower is better), SSIM, classified as target");
        void Series(string label, Func<EpochMetrics, double?> value, bool rightAxis = false)
        {
            var points = rows.Where(r => value(r) is double v && double.IsFinite(v)).ToList();
            if (points.Count == 0) return;
            var line = plot.Add.Scatter(points.Select(r => (double)r.Epoch).ToArray(), points.Select(r => value(r)!.Value).ToArray());
            line.LegendText = label;
            line.MarkerSize = 5;
            if (rightAxis)
            {
                line.Axes.YAxis = plot.Axes.Right;
                line.LinePattern = ScottPlot.LinePattern.Dashed;
            }
        }
        Series("cycle L1 A -> B -> A", r => r.CycleA);
        Series("cycle L1 B -> A -> B", r => r.CycleB);
        Series("SSIM A -> B", r => r.Quality?.SsimAtoB);
        Series("SSIM B -> A", r => r.Quality?.SsimBtoA);
        Series("classified as B: A -> B", r => r.Quality?.ClassifiedAtoB);
        Series("classified as A: B -> A", r => r.Quality?.ClassifiedBtoA);
        if (hasPsnr)
        {
            Series("PSNR A -> B (dB, right)", r => r.Quality?.PsnrAtoB, rightAxis: true);
            Series("PSNR B -> A (dB, right)", r => r.Quality?.PsnrBtoA, rightAxis: true);
            plot.Axes.Right.Label.Text = "PSNR dB (higher is better)";
        }
        Save(plot, path);
    }

    private static ScottPlot.Plot NewPlot(string title, string x, string y)
    {
        RegisterFont();
        var plot = new ScottPlot.Plot();
        plot.Font.Set(FontName);
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        return plot;
    }

    private static void Save(ScottPlot.Plot plot, string path)
    {
        byte[] png = plot.GetImageBytes(Width, Height, ScottPlot.ImageFormat.Png);
        AtomicFile.WriteAllBytes(path, png);
    }

    private static void RegisterFont()
    {
        lock (FontLock)
        {
            if (_fontRegistered) return;
            if (!File.Exists(FontPath))
                throw new FileNotFoundException($"{FontPath}: plot font is missing (it is copied next to the app at build time)", FontPath);
            ScottPlot.Fonts.AddFontFile(FontName, FontPath);
            ScottPlot.Fonts.Default = FontName;
            _fontRegistered = true;
        }
    }
}
