using System.Globalization;
using System.Net;
using System.Text;

namespace CycleGanEdge.Runtime.Evaluation;

/// <summary>
/// One evaluated candidate (a model, or a folder of translated images); null where a metric was not asked for.
/// <paramref name="TargetRate"/>: share of the images a domain classifier puts in the target domain.
/// </summary>
public sealed record EvalRow(string Name, int Images, double? Fid, KidResult? Kid, double? Psnr, double? Ssim, double? L1, double? CycleL1, double? TargetRate = null);

/// <summary>The same results as a markdown table, CSV, and an HTML page with a grid of example images.</summary>
public static class EvalReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    /// <summary>The Fréchet distance column's default name; the default feature network's is <see cref="FeatureExtractor.ResNet18DistanceName"/>.</summary>
    public const string Fid = "FID";
    public const string TargetRateColumn = "classified as target";

    // The classifier column only appears when a classifier was given, so reports without one keep their layout.
    private static bool HasClassifier(IReadOnlyList<EvalRow> rows) => rows.Any(r => r.TargetRate is not null);

    private static string[] Columns(IReadOnlyList<EvalRow> rows, string distance)
    {
        string[] columns = ["name", "images", distance, "KID", "KID std", "PSNR dB", "SSIM", "L1", "cycle L1"];
        return HasClassifier(rows) ? [.. columns, TargetRateColumn] : columns;
    }

    private static string[] Cells(EvalRow r, IReadOnlyList<EvalRow> rows)
    {
        string[] cells =
        [
            r.Name, r.Images.ToString(Inv), F(r.Fid, "F3"), F(r.Kid?.Mean, "F5"), F(r.Kid?.StdDev, "F5"),
            F(r.Psnr, "F2"), F(r.Ssim, "F4"), F(r.L1, "F4"), F(r.CycleL1, "F4"),
        ];
        return HasClassifier(rows) ? [.. cells, F(r.TargetRate, "F4")] : cells;
    }

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
        foreach (var r in rows) sb.AppendLine("| " + string.Join(" | ", Cells(r, rows).Select(c => c.Replace("|", "\\|"))) + " |");
        return sb.ToString();
    }

    public static string Csv(IReadOnlyList<EvalRow> rows, string distance = Fid)
    {
        static string Quote(string s) => s.IndexOfAny([',', '"', '\n']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(',', Columns(rows, distance).Select(Quote)));
        foreach (var r in rows) sb.AppendLine(string.Join(',', Cells(r, rows).Select(Quote)));
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
        foreach (var r in rows) sb.AppendLine("<tr>" + string.Concat(Cells(r, rows).Select(c => $"<td>{E(c)}</td>")) + "</tr>");
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
