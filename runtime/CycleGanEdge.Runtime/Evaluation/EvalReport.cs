using System.Globalization;
using System.Net;
using System.Text;

namespace CycleGanEdge.Runtime.Evaluation;

/// <summary>
/// One evaluated candidate (a model, or a folder of translated images), or a paired difference of two candidates
/// (its PSNR, SSIM and L1 are mean differences); null where a metric was not asked for.
/// <paramref name="TargetRate"/>: share of the images a domain classifier puts in the target domain.
/// <paramref name="Ci"/>: bootstrap 95 % intervals of the scores (see <see cref="Bootstrap"/>).
/// </summary>
public sealed record EvalRow(string Name, int Images, double? Fid, KidResult? Kid, double? Psnr, double? Ssim, double? L1, double? CycleL1,
    double? TargetRate = null, RowIntervals? Ci = null);

/// <summary>Bootstrap 95 % intervals of a row's scores; null where there is none.</summary>
public sealed record RowIntervals(Interval? Fid = null, Interval? Psnr = null, Interval? Ssim = null, Interval? L1 = null, Interval? TargetRate = null);

/// <summary>The same results as a markdown table, CSV, and an HTML page with a grid of example images.</summary>
public static class EvalReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    /// <summary>The Fréchet distance column's default name; the default feature network's is <see cref="FeatureExtractor.ResNet18DistanceName"/>.</summary>
    public const string Fid = "FID";
    public const string TargetRateColumn = "classified as target";

    /// <summary>A score column: its value and interval in a row, and how it is printed.</summary>
    private sealed record Metric(string Name, Func<EvalRow, double?> Value, Func<EvalRow, Interval?> Ci, string Format);

    // The classifier column only appears when a classifier was given, so reports without one keep their layout.
    private static Metric[] Metrics(IReadOnlyList<EvalRow> rows, string distance)
    {
        Metric[] metrics =
        [
            new(distance, r => r.Fid, r => r.Ci?.Fid, "F3"),
            new("KID", r => r.Kid?.Mean, _ => null, "F5"),
            new("KID std", r => r.Kid?.StdDev, _ => null, "F5"),
            new("PSNR dB", r => r.Psnr, r => r.Ci?.Psnr, "F2"),
            new("SSIM", r => r.Ssim, r => r.Ci?.Ssim, "F4"),
            new("L1", r => r.L1, r => r.Ci?.L1, "F4"),
            new("cycle L1", r => r.CycleL1, _ => null, "F4"),
        ];
        return rows.Any(r => r.TargetRate is not null) ? [.. metrics, new(TargetRateColumn, r => r.TargetRate, r => r.Ci?.TargetRate, "F4")] : metrics;
    }

    private static bool HasCi(Metric m, IReadOnlyList<EvalRow> rows) => rows.Any(r => m.Ci(r) is not null);

    /// <summary>The markdown/HTML columns; a score's cell carries its interval, "0.1610 [0.1550, 0.1680]".</summary>
    private static string[] Columns(IReadOnlyList<EvalRow> rows, string distance) =>
        ["name", "images", .. Metrics(rows, distance).Select(m => m.Name)];

    private static string[] Cells(EvalRow r, IReadOnlyList<EvalRow> rows, string distance) =>
        [r.Name, r.Images.ToString(Inv), .. Metrics(rows, distance).Select(m =>
            m.Ci(r) is { } ci && m.Value(r) is not null ? $"{F(m.Value(r), m.Format)} [{F(ci.Low, m.Format)}, {F(ci.High, m.Format)}]" : F(m.Value(r), m.Format))];

    /// <summary>The CSV columns: an interval is two more columns, "NAME low" and "NAME high", after its score.</summary>
    private static string[] CsvColumns(IReadOnlyList<EvalRow> rows, string distance) =>
        ["name", "images", .. Metrics(rows, distance).SelectMany(m => HasCi(m, rows) ? new[] { m.Name, m.Name + " low", m.Name + " high" } : [m.Name])];

    private static string[] CsvCells(EvalRow r, IReadOnlyList<EvalRow> rows, string distance) =>
        [r.Name, r.Images.ToString(Inv), .. Metrics(rows, distance).SelectMany(m => HasCi(m, rows)
            ? new[] { F(m.Value(r), m.Format), F(m.Ci(r)?.Low, m.Format), F(m.Ci(r)?.High, m.Format) }
            : [F(m.Value(r), m.Format)])];

    private static string F(double? v, string format) => v switch
    {
        null => "",
        double.PositiveInfinity => "inf",
        { } x => x.ToString(format, Inv),
    };

    public static string Markdown(IReadOnlyList<EvalRow> rows, string distance = Fid)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| " + string.Join(" | ", Columns(rows, distance)) + " |");
        sb.AppendLine("|" + string.Concat(Columns(rows, distance).Select(_ => "---|")));
        foreach (var r in rows) sb.AppendLine("| " + string.Join(" | ", Cells(r, rows, distance).Select(c => c.Replace("|", "\\|"))) + " |");
        return sb.ToString();
    }

    public static string Csv(IReadOnlyList<EvalRow> rows, string distance = Fid)
    {
        static string Quote(string s) => s.IndexOfAny([',', '"', '\n']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(',', CsvColumns(rows, distance).Select(Quote)));
        foreach (var r in rows) sb.AppendLine(string.Join(',', CsvCells(r, rows, distance).Select(Quote)));
        return sb.ToString();
    }

    /// <summary>
    /// The table, then one grid row per example input: the input, then each candidate's image of it.
    /// <paramref name="grid"/> holds image paths relative to the page (null where a candidate has no image).
    /// </summary>
    public static string Html(IReadOnlyList<EvalRow> rows, IReadOnlyList<string> gridColumns, IReadOnlyList<(string Name, IReadOnlyList<string?> Images)> grid,
        string distance = Fid)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        var sb = new StringBuilder();
        sb.AppendLine("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>cyclegan-run eval</title>");
        sb.AppendLine("<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}" +
                      "td:first-child,th:first-child{text-align:left}.grid img{width:128px;image-rendering:pixelated}</style></head><body>");
        sb.AppendLine("<h1>Evaluation</h1><table><tr>" + string.Concat(Columns(rows, distance).Select(c => $"<th>{E(c)}</th>")) + "</tr>");
        foreach (var r in rows) sb.AppendLine("<tr>" + string.Concat(Cells(r, rows, distance).Select(c => $"<td>{E(c)}</td>")) + "</tr>");
        sb.AppendLine("</table>");
        if (grid.Count > 0)
        {
            sb.AppendLine("<h2>Examples</h2><table class=\"grid\"><tr><th>file</th>" + string.Concat(gridColumns.Select(c => $"<th>{E(c)}</th>")) + "</tr>");
            foreach (var (name, images) in grid)
                sb.AppendLine($"<tr><td>{E(name)}</td>" + string.Concat(images.Select(i => i is null ? "<td></td>" : $"<td><img src=\"{E(i)}\" alt=\"\"></td>")) + "</tr>");
            sb.AppendLine("</table>");
        }
        sb.AppendLine("</body></html>");
        return sb.ToString();
    }
}
