using SkiaSharp;
using Svg.Skia;

namespace CycleGanEdge.Torch.Data.Prep;

/// <summary>SVG files drawn to square PNGs (transparent background), once per cache folder.</summary>
public static class SvgRaster
{
    /// <summary>
    /// Draws every *.svg of <paramref name="svgFolder"/> into <paramref name="pngFolder"/> at side x side, scaled to fit.
    /// The finished folder appears with one rename, so an interrupted run never leaves a half-drawn set behind.
    /// </summary>
    public static string DrawFolder(string svgFolder, string pngFolder, int side, TextWriter log, CancellationToken ct)
    {
        if (Directory.Exists(pngFolder))
            return pngFolder;
        string work = pngFolder + $".{Guid.NewGuid():N}.tmp";
        Directory.CreateDirectory(work);
        try
        {
            var files = Directory.GetFiles(svgFolder, "*.svg").Order(StringComparer.Ordinal).ToArray();
            log.WriteLine($"drawing {files.Length} SVG files at {side}x{side}");
            int failed = 0;
            foreach (var file in files)
            {
                ct.ThrowIfCancellationRequested();
                byte[]? png = Draw(file, side);
                if (png is null) { failed++; continue; }
                File.WriteAllBytes(Path.Combine(work, Path.GetFileNameWithoutExtension(file) + ".png"), png);
            }
            if (failed > 0) log.WriteLine($"{failed} SVG file(s) could not be drawn and are left out");
            Directory.Move(work, pngFolder);
            return pngFolder;
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>One SVG as a PNG, or null when Svg.Skia cannot read it.</summary>
    public static byte[]? Draw(string svgPath, int side)
    {
        using var svg = new SKSvg();
        try { svg.Load(svgPath); }
        catch (Exception e) when (e is InvalidOperationException or FormatException or System.Xml.XmlException or ArgumentException) { return null; }
        var picture = svg.Picture;
        if (picture is null || picture.CullRect.Width <= 0 || picture.CullRect.Height <= 0)
            return null;
        var bounds = picture.CullRect;
        float scale = side / Math.Max(bounds.Width, bounds.Height);
        using var bitmap = new SKBitmap(new SKImageInfo(side, side, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.Transparent);
            canvas.Translate((side - bounds.Width * scale) / 2, (side - bounds.Height * scale) / 2);
            canvas.Scale(scale);
            canvas.Translate(-bounds.Left, -bounds.Top);
            canvas.DrawPicture(picture);
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
