using System.Globalization;
using System.Net;
using System.Text;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Torch.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Training;

/// <summary>
/// The human-facing files of a run folder: losses.csv/png, metrics.csv/png, web/images/*.png and
/// web/index.html (the reference's web folder). Every file is written atomically.
/// </summary>
public sealed class RunOutputs : IDisposable
{
    public const string LossesCsv = "losses.csv";
    public const string MetricsCsv = "metrics.csv";
    // The quality columns (train --eval-freq with paired test images or --eval-classifier) are empty when not measured.
    private const string MetricsHeader = "epoch,cycle_l1_A,cycle_l1_B,images_A,images_B,pairs,psnr_AtoB,ssim_AtoB,psnr_BtoA,ssim_BtoA,classified_B_AtoB,classified_A_BtoA";

    private readonly string _dir;
    private readonly IReadOnlyList<string> _lossNames;
    private readonly string _sampleCaption;
    private readonly List<(long Iter, double?[] Values)> _losses = [];
    private readonly List<EpochMetrics> _metrics = [];
    private readonly List<int> _sampleEpochs = [];
    private StreamWriter? _lossWriter;

    /// <param name="lossNames">The columns of losses.csv after epoch,total_iters,epoch_iter,lr (the model's <see cref="LossNames"/>).</param>
    /// <param name="sampleCaption">What the columns of the sample grids show.</param>
    public RunOutputs(string runDirectory, IReadOnlyList<string>? lossNames = null, string? sampleCaption = null)
    {
        _dir = runDirectory;
        _lossNames = lossNames ?? StepLosses.CycleGanNames;
        _sampleCaption = sampleCaption ?? "Each row: real | translated | reconstructed (A rows: G_A then G_B; B rows: G_B then G_A).";
        Directory.CreateDirectory(Path.Combine(_dir, "web", "images"));
    }

    public string LossesPath => Path.Combine(_dir, LossesCsv);
    public string MetricsPath => Path.Combine(_dir, MetricsCsv);
    public string ImagesDir => Path.Combine(_dir, "web", "images");
    public IReadOnlyList<EpochMetrics> Metrics => _metrics;

    /// <summary>
    /// Starts the logs. When resuming, rows written after the saved position (the iterations a kill
    /// threw away) are dropped, so the logs match what the resumed run will redo.
    /// </summary>
    public void Open(bool resume, long totalIters, int nextEpoch)
    {
        string lossHeader = "epoch,total_iters,epoch_iter,lr," + string.Join(',', _lossNames);
        var lossLines = new List<string> { lossHeader };
        var metricLines = new List<string> { MetricsHeader };
        if (resume && File.Exists(LossesPath))
        {
            foreach (var line in File.ReadLines(LossesPath).Skip(1))
            {
                var cells = line.Split(',');
                if (cells.Length != 4 + _lossNames.Count || !long.TryParse(cells[1], CultureInfo.InvariantCulture, out long iter)) continue;
                if (iter > totalIters) continue;
                lossLines.Add(line);
                _losses.Add((iter, cells.Skip(4).Select(c => double.TryParse(c, CultureInfo.InvariantCulture, out double v) ? v : (double?)null).ToArray()));
            }
        }
        if (resume && File.Exists(MetricsPath))
        {
            foreach (var line in File.ReadLines(MetricsPath).Skip(1))
            {
                var cells = line.Split(',');
                if (cells.Length < 3 || !int.TryParse(cells[0], CultureInfo.InvariantCulture, out int epoch) || epoch >= nextEpoch) continue;
                metricLines.Add(line);
                _metrics.Add(EpochMetrics.Parse(cells));
            }
        }
        if (resume)
        {
            foreach (var file in Directory.EnumerateFiles(ImagesDir, "epoch*_A.png"))
            {
                string stem = Path.GetFileName(file)[5..^6];
                if (int.TryParse(stem, CultureInfo.InvariantCulture, out int e) && e < nextEpoch) _sampleEpochs.Add(e);
            }
            _sampleEpochs.Sort();
        }
        WriteText(LossesPath, string.Join('\n', lossLines) + '\n');
        WriteText(MetricsPath, string.Join('\n', metricLines) + '\n');
        _lossWriter = new StreamWriter(new FileStream(LossesPath, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false));
    }

    public void AppendLosses(int epoch, long totalIters, int epochIter, double lr, StepLosses losses)
    {
        var line = new StringBuilder();
        line.Append(CultureInfo.InvariantCulture, $"{epoch},{totalIters},{epochIter},{lr:R}");
        foreach (var v in losses.Values)
            line.Append(',').Append(v is double d ? d.ToString("G7", CultureInfo.InvariantCulture) : "");
        _lossWriter!.WriteLine(line.ToString());
        _losses.Add((totalIters, (double?[])losses.Values.Clone()));
    }

    /// <summary>Makes the appended loss rows durable (called whenever a checkpoint is saved).</summary>
    public void Flush() => _lossWriter?.Flush();

    public void AppendMetrics(EpochMetrics metrics)
    {
        _metrics.Add(metrics);
        var text = new StringBuilder(MetricsHeader).Append('\n');
        foreach (var line in File.ReadLines(MetricsPath).Skip(1)) text.Append(line).Append('\n');
        text.Append(metrics.ToCsv()).Append('\n');
        WriteText(MetricsPath, text.ToString());
    }

    /// <summary>Rows real | translated | reconstructed, one per image, for each domain.</summary>
    public void SaveSamples(int epoch, Tensor rowsA, Tensor rowsB)
    {
        AtomicFile.WriteAllBytes(Path.Combine(ImagesDir, SampleName(epoch, "A")), ImageCodec.Encode(ToImage(rowsA), ImageFormat.Png));
        AtomicFile.WriteAllBytes(Path.Combine(ImagesDir, SampleName(epoch, "B")), ImageCodec.Encode(ToImage(rowsB), ImageFormat.Png));
        if (!_sampleEpochs.Contains(epoch)) _sampleEpochs.Add(epoch);
    }

    /// <summary>Redraws losses.png and metrics.png and rewrites web/index.html.</summary>
    public void Render(string title)
    {
        Flush();
        Plots.Losses(Path.Combine(_dir, "losses.png"), _lossNames, _losses);
        if (_metrics.Count > 0) Plots.Metrics(Path.Combine(_dir, "metrics.png"), _metrics);
        WriteText(Path.Combine(_dir, "web", "index.html"), Html(title));
    }

    public void Dispose() => _lossWriter?.Dispose();

    public static string SampleName(int epoch, string domain) => $"epoch{epoch:D3}_{domain}.png";

    private string Html(string title)
    {
        var html = new StringBuilder();
        string t = WebUtility.HtmlEncode(title);
        html.Append(CultureInfo.InvariantCulture, $"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n");
        html.Append("<style>body{font-family:sans-serif} img{image-rendering:pixelated;max-width:100%}</style></head><body>\n");
        html.Append(CultureInfo.InvariantCulture, $"<h1>{t}</h1>\n<p><img src=\"../losses.png\" alt=\"losses\"></p>\n");
        if (_metrics.Count > 0) html.Append("<p><img src=\"../metrics.png\" alt=\"test-set metrics\"></p>\n");
        html.Append(CultureInfo.InvariantCulture, $"<p>{WebUtility.HtmlEncode(_sampleCaption)}</p>\n");
        foreach (int epoch in _sampleEpochs.OrderDescending())
        {
            html.Append(CultureInfo.InvariantCulture, $"<h3>epoch {epoch}</h3>\n<table><tr>");
            foreach (var domain in new[] { "A", "B" })
                html.Append(CultureInfo.InvariantCulture, $"<td><img src=\"images/{SampleName(epoch, domain)}\" alt=\"epoch {epoch} {domain}\"></td>");
            html.Append("</tr></table>\n");
        }
        return html.Append("</body></html>\n").ToString();
    }

    /// <summary>[N,3,H,W] in [-1,1] to one RGBA image with the N rows stacked vertically.</summary>
    private static RgbaImage ToImage(Tensor rows)
    {
        using var scope = NewDisposeScope();
        var hwc = ((rows.clamp(-1, 1) + 1) * 127.5).round().to(ScalarType.Byte)
            .permute(0, 2, 3, 1).reshape(rows.shape[0] * rows.shape[2], rows.shape[3], 3).contiguous();
        int h = (int)hwc.shape[0], w = (int)hwc.shape[1];
        var rgb = hwc.data<byte>().ToArray();
        var image = new RgbaImage(w, h);
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            image.Pixels[j] = rgb[i];
            image.Pixels[j + 1] = rgb[i + 1];
            image.Pixels[j + 2] = rgb[i + 2];
        }
        return image;
    }

    private static void WriteText(string path, string text) => AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(text));
}

/// <summary>One row of metrics.csv: the test-set cycle L1 and, when measured, the translation quality.</summary>
public sealed record EpochMetrics(int Epoch, double CycleA, double CycleB, int ImagesA, int ImagesB, EpochQuality? Quality = null)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public string ToCsv()
    {
        // NaN: not measured (CUT has no cycle), written as an empty cell.
        static string F(double? v) => v is double d && !double.IsNaN(d) ? d.ToString("G7", Inv) : "";
        var q = Quality;
        return string.Join(',', Epoch.ToString(Inv), F(CycleA), F(CycleB), ImagesA.ToString(Inv), ImagesB.ToString(Inv),
            q is null ? "" : q.Pairs.ToString(Inv), F(q?.PsnrAtoB), F(q?.SsimAtoB), F(q?.PsnrBtoA), F(q?.SsimBtoA), F(q?.ClassifiedAtoB), F(q?.ClassifiedBtoA));
    }

    /// <summary>A metrics.csv row (older runs wrote only the first five columns).</summary>
    public static EpochMetrics Parse(string[] cells)
    {
        double? D(int i) => i < cells.Length && double.TryParse(cells[i], NumberStyles.Float, Inv, out double v) ? v : null;
        int I(int i) => i < cells.Length && int.TryParse(cells[i], NumberStyles.Integer, Inv, out int v) ? v : 0;
        var quality = cells.Length > 5 && cells[5].Length > 0 ? new EpochQuality(I(5), D(6), D(7), D(8), D(9), D(10), D(11)) : null;
        return new EpochMetrics(I(0), D(1) ?? double.NaN, D(2) ?? double.NaN, I(3), I(4), quality);
    }
}
