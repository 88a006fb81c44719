using System.Runtime.InteropServices;
using SkiaSharp;

namespace CycleGanEdge.Core.Imaging;

public enum ImageFormat { Png, Jpeg, Webp }

/// <summary>Decodes any image Skia reads to RGBA8 (EXIF orientation applied) and encodes PNG, JPEG or WebP.</summary>
public static class ImageCodec
{
    /// <summary>zlib level for PNG: level 6 (the default) costs about 5x the time for files a little smaller.</summary>
    public const int PngZlibLevel = 2;

    private static readonly string[] ReadableExtensions = [".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"];

    public static bool IsSupportedExtension(string path) =>
        ReadableExtensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>Output format for a file name; throws <see cref="ArgumentException"/> for others.</summary>
    public static ImageFormat FormatFromExtension(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => ImageFormat.Png,
        ".jpg" or ".jpeg" => ImageFormat.Jpeg,
        ".webp" => ImageFormat.Webp,
        var ext => throw new ArgumentException($"{path}: cannot write '{ext}' images (use .png, .jpg or .webp)."),
    };

    public static string Extension(ImageFormat format) => format switch
    {
        ImageFormat.Png => ".png",
        ImageFormat.Jpeg => ".jpg",
        ImageFormat.Webp => ".webp",
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    public static RgbaImage Decode(string path, ImageLimits? limits = null)
    {
        byte[] data;
        try
        {
            data = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException) { throw new ImageDecodeException(path, "file not found"); }
        catch (DirectoryNotFoundException) { throw new ImageDecodeException(path, "file not found"); }
        catch (UnauthorizedAccessException) { throw new ImageDecodeException(path, "permission denied"); }
        catch (IOException e) { throw new ImageDecodeException(path, e.Message, e); }
        return Decode(data, path, limits);
    }

    public static unsafe RgbaImage Decode(ReadOnlySpan<byte> data, string nameForErrors, ImageLimits? limits = null)
    {
        limits ??= ImageLimits.Default;
        if (data.IsEmpty)
            throw new ImageDecodeException(nameForErrors, "empty file");

        SKCodec? codec;
        fixed (byte* p = data)
        {
            using var skData = SKData.CreateCopy((IntPtr)p, (ulong)data.Length);
            codec = SKCodec.Create(skData);
        }
        if (codec is null)
            throw new ImageDecodeException(nameForErrors, "not an image or an unsupported format");

        using (codec)
        {
            var header = codec.Info;
            if (header.Width <= 0 || header.Height <= 0)
                throw new ImageDecodeException(nameForErrors, "image has no pixels");
            long pixelCount = (long)header.Width * header.Height;
            if (pixelCount > limits.MaxPixels)
                throw new ImageDecodeException(nameForErrors,
                    $"{header.Width}x{header.Height} is {pixelCount:N0} pixels, above the limit of {limits.MaxPixels:N0}") { AboveMaxPixels = true };

            // A raised --max-pixels must not turn a huge header into an OverflowException: .NET arrays stop at Array.MaxLength.
            if (pixelCount > Array.MaxLength / 4)
                throw new ImageDecodeException(nameForErrors,
                    $"{header.Width}x{header.Height} is {pixelCount:N0} pixels, too many to hold in memory (at most {Array.MaxLength / 4:N0})");

            // Rgba8888/Unpremul makes Skia convert palette, grey, 16-bit and CMYK sources to RGBA8.
            var info = new SKImageInfo(header.Width, header.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            var pixels = new byte[pixelCount * 4];
            SKCodecResult result;
            fixed (byte* dst = pixels)
                result = codec.GetPixels(info, (IntPtr)dst); // animated GIF/WebP: the first frame, by design (docs/threat-model.md)
            if (result != SKCodecResult.Success)
                throw new ImageDecodeException(nameForErrors, result switch
                {
                    SKCodecResult.IncompleteInput => "truncated image data",
                    SKCodecResult.ErrorInInput => "corrupt image data",
                    _ => $"cannot decode ({result})",
                });

            bool hasAlpha = header.AlphaType != SKAlphaType.Opaque;
            return Orient(new RgbaImage(header.Width, header.Height, pixels, hasAlpha), codec.EncodedOrigin);
        }
    }

    /// <param name="quality">0-100 for JPEG and WebP (100 = lossless WebP); ignored for PNG.</param>
    public static unsafe byte[] Encode(RgbaImage img, ImageFormat format, int quality = 95)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        // Opaque images are written without an alpha channel (smaller PNG/WebP).
        var alphaType = img.HasAlpha ? SKAlphaType.Unpremul : SKAlphaType.Opaque;
        var info = new SKImageInfo(img.Width, img.Height, SKColorType.Rgba8888, alphaType);
        fixed (byte* p = img.Pixels)
        {
            using var pixmap = new SKPixmap(info, (IntPtr)p, img.Width * 4);
            using SKData? encoded = format switch
            {
                ImageFormat.Png => pixmap.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, PngZlibLevel)),
                ImageFormat.Jpeg => pixmap.Encode(new SKJpegEncoderOptions(quality, SKJpegEncoderDownsample.Downsample420, SKJpegEncoderAlphaOption.Ignore)),
                ImageFormat.Webp => pixmap.Encode(new SKWebpEncoderOptions(
                    quality >= 100 ? SKWebpEncoderCompression.Lossless : SKWebpEncoderCompression.Lossy, quality)),
                _ => throw new ArgumentOutOfRangeException(nameof(format)),
            };
            if (encoded is null)
                throw new InvalidOperationException($"Skia could not encode a {img.Width}x{img.Height} image as {format}.");
            return encoded.ToArray();
        }
    }

    /// <summary>Turns stored pixels upright according to the EXIF orientation tag.</summary>
    private static RgbaImage Orient(RgbaImage img, SKEncodedOrigin origin)
    {
        if (origin is SKEncodedOrigin.TopLeft or SKEncodedOrigin.Default)
            return img;
        int w = img.Width, h = img.Height;
        bool swaps = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int outW = swaps ? h : w, outH = swaps ? w : h;
        var src = MemoryMarshal.Cast<byte, uint>(img.Pixels);
        var result = new byte[img.Pixels.Length];
        var dst = MemoryMarshal.Cast<byte, uint>(result.AsSpan());
        for (int y = 0; y < outH; y++)
        {
            for (int x = 0; x < outW; x++)
            {
                // (sx, sy): the stored pixel that lands at upright position (x, y).
                (int sx, int sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (w - 1 - x, y),
                    SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y),
                    SKEncodedOrigin.BottomLeft => (x, h - 1 - y),
                    SKEncodedOrigin.LeftTop => (y, x),
                    SKEncodedOrigin.RightTop => (y, h - 1 - x),
                    SKEncodedOrigin.RightBottom => (w - 1 - y, h - 1 - x),
                    SKEncodedOrigin.LeftBottom => (w - 1 - y, x),
                    _ => (x, y),
                };
                dst[y * outW + x] = src[sy * w + sx];
            }
        }
        return new RgbaImage(outW, outH, result, img.HasAlpha);
    }
}
