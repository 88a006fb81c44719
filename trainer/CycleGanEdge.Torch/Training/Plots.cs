using CycleGanEdge.Runtime.Imaging;

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
    public static void Losses(string path, IReadOnlyList<(long Iter, double?[] Values)> rows)
    {
        var plot = NewPlot("Training losses (bucket means)", "iteration", "loss");
        int buckets = Math.Max(1, Math.Min(MaxPoints, rows.Count));
        for (int k = 0; k < StepLosses.Names.Length; k++)
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
            line.LegendText = StepLosses.Names[k];
            line.MarkerSize = xs.Count == 1 ? 5 : 0;
        }
        Save(plot, path);
    }

    public static void Metrics(string path, IReadOnlyList<(int Epoch, double CycleA, double CycleB)> rows)
    {
        var plot = NewPlot("Test-set cycle L1 (lower is better)", "epoch", "mean |x - G'(G(x))|");
        double[] epochs = rows.Select(r => (double)r.Epoch).ToArray();
        var a = plot.Add.Scatter(epochs, rows.Select(r => r.CycleA).ToArray());
        a.LegendText = "A -> B -> A";
        var b = plot.Add.Scatter(epochs, rows.Select(r => r.CycleB).ToArray());
        b.LegendText = "B -> A -> B";
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
