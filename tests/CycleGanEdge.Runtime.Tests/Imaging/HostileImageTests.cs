using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests.Imaging;

/// <summary>Inputs real folders contain: CMYK, animations, wrong names, huge headers in every format.</summary>
public class HostileImageTests
{
    [Fact]
    public void Adobe_cmyk_jpeg_becomes_rgb()
    {
        // Inverted CMYK as Photoshop stores it: C=255 (no cyan), M=0, Y=0 (full magenta, yellow), K=255 (no black) is red.
        var red = ImageCodec.Decode(HostileImageFiles.CmykJpeg(255, 0, 0, 255), "cmyk.jpg");
        Assert.Equal((8, 8), (red.Width, red.Height));
        Assert.False(red.HasAlpha);
        Assert.InRange(TestImages.MaxDifference(red.Pixels.AsSpan(0, 4), [255, 0, 0, 255]), 0, 3);
        var grey = ImageCodec.Decode(HostileImageFiles.CmykJpeg(255, 255, 255, 128), "k.jpg");
        Assert.InRange(TestImages.MaxDifference(grey.Pixels.AsSpan(0, 4), [128, 128, 128, 255]), 0, 3);
    }

    [Fact]
    public void Animated_webp_gives_its_first_frame()
    {
        var img = ImageCodec.Decode(HostileImageFiles.TwoFrameWebp(), "anim.webp");
        Assert.Equal((8, 8), (img.Width, img.Height));
        Assert.Equal(new byte[] { 255, 0, 0, 255 }, img.Pixels[..4]);
    }

    [Fact]
    public void Wrong_extension_is_decoded_by_content_and_non_images_are_named()
    {
        byte[] png = ImageCodec.Encode(TestImages.Random(5, 4), ImageFormat.Png);
        Assert.Equal(5, ImageCodec.Decode(png, "really-a-png.jpg").Width);
        var e = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode("%PDF-1.4 not a picture"u8, "scan.jpg"));
        Assert.Equal("scan.jpg: not an image or an unsupported format", e.Message);
    }

    public static TheoryData<string> Bombs => ["png", "gif", "jpg"];

    [Theory]
    [MemberData(nameof(Bombs))]
    public void Huge_headers_are_refused_before_pixels_are_allocated(string format)
    {
        byte[] file = format switch
        {
            "png" => TestFiles.PngBomb(60_000, 60_000),
            "gif" => HostileImageFiles.GifBomb(65_535, 65_535),
            _ => HostileImageFiles.JpegBomb(65_000, 65_000), // libjpeg stops at 65500
        };
        Assert.True(file.Length < 1000);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var e = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(file, "bomb." + format, new ImageLimits { MaxPixels = 1_000_000 }));
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < 1_000_000);
        Assert.Contains("above the limit of 1,000,000", e.Reason);
    }

    [Fact]
    public void A_raised_limit_never_turns_a_huge_header_into_a_crash()
    {
        // 60000 x 60000 = 3.6e9 pixels: above what one .NET array holds even when the user lifts --max-pixels.
        // Before the fix this threw OverflowException (an unhandled crash in a batch).
        var e = Assert.Throws<ImageDecodeException>(() =>
            ImageCodec.Decode(TestFiles.PngBomb(60_000, 60_000), "big.png", new ImageLimits { MaxPixels = long.MaxValue }));
        Assert.Contains("too many to hold in memory", e.Reason);
    }
}
