using CycleGanEdge.Core.Imaging;
using SkiaSharp;

namespace CycleGanEdge.Runtime.Tests.Imaging;

public class ImageCodecTests
{
    private static RgbaImage Gradient(int w, int h, bool alpha)
    {
        var px = new byte[w * h * 4];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = (y * w + x) * 4;
                px[i] = (byte)(x * 255 / Math.Max(1, w - 1));
                px[i + 1] = (byte)(y * 255 / Math.Max(1, h - 1));
                px[i + 2] = (byte)((x + y) * 7);
                px[i + 3] = alpha ? (byte)(255 - x * 3) : (byte)255;
            }
        return new RgbaImage(w, h, px, alpha);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Png_round_trip_is_lossless_and_keeps_alpha_flag(bool alpha)
    {
        var img = Gradient(37, 21, alpha);
        var back = ImageCodec.Decode(ImageCodec.Encode(img, ImageFormat.Png, 0), "x.png");
        Assert.Equal((37, 21), (back.Width, back.Height));
        Assert.Equal(alpha, back.HasAlpha);
        Assert.Equal(img.Pixels, back.Pixels);
    }

    [Fact]
    public void Lossless_webp_round_trip_is_exact_and_jpeg_is_close()
    {
        var img = Gradient(32, 32, alpha: false);
        Assert.Equal(img.Pixels, ImageCodec.Decode(ImageCodec.Encode(img, ImageFormat.Webp, 100), "x.webp").Pixels);
        var jpeg = ImageCodec.Decode(ImageCodec.Encode(img, ImageFormat.Jpeg, 95), "x.jpg");
        Assert.False(jpeg.HasAlpha);
        double meanError = img.Pixels.Zip(jpeg.Pixels, (a, b) => Math.Abs(a - b)).Average();
        Assert.InRange(meanError, 0, 4);
    }

    [Fact]
    public void Palette_png_with_transparency_becomes_rgba()
    {
        byte[] file = TestFiles.Png(2, 1, colorType: 3, bitDepth: 8, rows: [[0, 1]],
            palette: [10, 20, 30, 200, 100, 50], transparency: [255, 128]);
        var img = ImageCodec.Decode(file, "p.png");
        Assert.True(img.HasAlpha);
        Assert.Equal(new byte[] { 10, 20, 30, 255, 200, 100, 50, 128 }, img.Pixels);
    }

    [Fact]
    public void Grey_16bit_and_grey_alpha_pngs_become_rgba8()
    {
        // 16-bit grey: 0x8000 -> 128 (Skia rounds the high byte).
        var grey16 = ImageCodec.Decode(TestFiles.Png(1, 1, 0, 16, [[0x80, 0x00]]), "g16.png");
        Assert.False(grey16.HasAlpha);
        Assert.Equal(new byte[] { 128, 128, 128, 255 }, grey16.Pixels);
        var greyAlpha = ImageCodec.Decode(TestFiles.Png(1, 1, 4, 8, [[77, 99]]), "ga.png");
        Assert.True(greyAlpha.HasAlpha);
        Assert.Equal(new byte[] { 77, 77, 77, 99 }, greyAlpha.Pixels);
        var rgb16 = ImageCodec.Decode(TestFiles.Png(1, 1, 2, 16, [[0xFF, 0xFF, 0x00, 0x00, 0x40, 0x00]]), "rgb16.png");
        Assert.Equal(new byte[] { 255, 0, 64, 255 }, rgb16.Pixels);
    }

    [Theory]
    [InlineData(1, 3, 2)]
    [InlineData(3, 3, 2)]
    [InlineData(6, 2, 3)]
    [InlineData(8, 2, 3)]
    public void Exif_orientation_is_applied(ushort orientation, int expectedW, int expectedH)
    {
        // A 3x2 image with a distinct dark quadrant at stored (0,0): check where it lands.
        var stored = new RgbaImage(24, 16);
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++)
                stored.Pixels[(y * 24 + x) * 4] = 0; // left top block stays black
        for (int i = 0; i < stored.Pixels.Length; i += 4)
            if (stored.Pixels[i + 3] == 255 && !(i / 4 % 24 < 8 && i / 4 / 24 < 8)) { stored.Pixels[i] = 250; stored.Pixels[i + 1] = 250; stored.Pixels[i + 2] = 250; }
        byte[] jpeg = TestFiles.WithExifOrientation(ImageCodec.Encode(stored, ImageFormat.Jpeg, 100), orientation);
        var img = ImageCodec.Decode(jpeg, "o.jpg");
        Assert.Equal((expectedW * 8, expectedH * 8), (img.Width, img.Height));
        // Where the stored top-left block must appear once upright.
        (int bx, int by) = orientation switch
        {
            1 => (0, 0),
            3 => (img.Width - 8, img.Height - 8),
            6 => (img.Width - 8, 0),  // rotated 90 clockwise: stored left-top goes to top-right
            8 => (0, img.Height - 8), // rotated 90 counter-clockwise: to bottom-left
            _ => throw new ArgumentOutOfRangeException(nameof(orientation)),
        };
        Assert.True(img.Pixels[((by + 4) * img.Width + bx + 4) * 4] < 40, "dark block missing where expected");
        Assert.True(img.Pixels[((img.Height / 2) * img.Width + img.Width / 2) * 4 + 4 * (bx == 0 ? 6 : -6)] > 200);
    }

    [Fact]
    public void Animated_gif_gives_its_first_frame()
    {
        var img = ImageCodec.Decode(TestFiles.TwoFrameGif(), "a.gif");
        Assert.Equal(new byte[] { 255, 0, 0, 255 }, img.Pixels);
    }

    [Fact]
    public void Bad_files_throw_ImageDecodeException_naming_the_file()
    {
        var good = ImageCodec.Encode(Gradient(64, 64, false), ImageFormat.Png, 0);
        var cases = new (byte[] Data, string Reason)[]
        {
            ([], "empty"),
            ("hello, not an image"u8.ToArray(), "not an image"),
            (good[..(good.Length / 2)], "truncated"),
        };
        foreach (var (data, reason) in cases)
        {
            var e = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(data, "dir/bad.png"));
            Assert.Equal("dir/bad.png", e.Path);
            Assert.StartsWith("dir/bad.png: ", e.Message);
            Assert.Contains(reason, e.Reason);
        }
        var missing = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode("/nonexistent/x.png"));
        Assert.Contains("not found", missing.Reason);
    }

    [Fact]
    public void Decompression_bomb_is_refused_from_its_header()
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var e = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(TestFiles.PngBomb(50_000, 50_000), "bomb.png"));
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Contains("above the limit", e.Reason);
        Assert.True(allocated < 1_000_000, $"allocated {allocated} bytes before refusing");
        // A custom limit applies to ordinary images too.
        var small = ImageCodec.Encode(Gradient(64, 64, false), ImageFormat.Png, 0);
        Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(small, "s.png", new ImageLimits { MaxPixels = 4000 }));
    }

    [Fact]
    public void Extensions()
    {
        Assert.Equal(ImageFormat.Jpeg, ImageCodec.FormatFromExtension("a/B.JPEG"));
        Assert.Equal(ImageFormat.Webp, ImageCodec.FormatFromExtension("x.webp"));
        Assert.Throws<ArgumentException>(() => ImageCodec.FormatFromExtension("x.tiff"));
        Assert.True(ImageCodec.IsSupportedExtension("x.Png"));
        Assert.False(ImageCodec.IsSupportedExtension("notes.txt"));
    }
}
