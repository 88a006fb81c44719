using CycleGanEdge.Core.Metrics;
using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests.Evaluation;

public class ImageMetricsTests
{
    private static RgbaImage Map(RgbaImage image, Func<byte, int> f)
    {
        var px = (byte[])image.Pixels.Clone();
        for (int i = 0; i < px.Length; i++)
            if (i % 4 != 3) px[i] = (byte)Math.Clamp(f(px[i]), 0, 255);
        return new RgbaImage(image.Width, image.Height, px, image.HasAlpha);
    }

    private static RgbaImage Constant(int w, int h, byte value) => Map(new RgbaImage(w, h), _ => value);

    [Fact]
    public void Identical_images_give_infinite_psnr_ssim_1_and_l1_0()
    {
        var img = TestImages.Random(32, 24);
        Assert.Equal(double.PositiveInfinity, ImageMetrics.Psnr(img, img));
        Assert.Equal(1.0, ImageMetrics.Ssim(img, img), 12);
        Assert.Equal(0.0, ImageMetrics.L1(img, img));
    }

    [Fact]
    public void A_constant_offset_gives_the_closed_form_psnr_and_l1()
    {
        var img = Map(TestImages.Random(32, 24), v => 20 + v * 200 / 255); // room to add 10 without clipping
        var brighter = Map(img, v => v + 10);
        Assert.Equal(10 * Math.Log10(255.0 * 255 / 100), ImageMetrics.Psnr(img, brighter), 12);
        Assert.Equal(10 / 255.0, ImageMetrics.L1(img, brighter), 12);
    }

    [Fact]
    public void Alpha_is_ignored()
    {
        var img = TestImages.Random(16, 16, alpha: true);
        var opaque = new RgbaImage(16, 16, img.Pixels.Select((v, i) => i % 4 == 3 ? (byte)255 : v).ToArray(), false);
        Assert.Equal(double.PositiveInfinity, ImageMetrics.Psnr(img, opaque));
    }

    [Theory]
    [InlineData(100, 10)]
    [InlineData(30, 60)]
    public void Ssim_of_flat_images_is_the_luminance_term(byte value, int offset)
    {
        // Zero variance everywhere: the contrast-structure term is (0 + C2)/(0 + C2) = 1.
        const double c1 = 2.55 * 2.55;
        double x = value, y = value + offset;
        double expected = (2 * x * y + c1) / (x * x + y * y + c1);
        Assert.Equal(expected, ImageMetrics.Ssim(Constant(20, 15, value), Constant(20, 15, (byte)(value + offset))), 12);
    }

    [Fact]
    public void Ssim_falls_with_noise_and_with_inversion_and_is_symmetric()
    {
        var img = TestImages.Random(40, 40);
        var rng = new Random(3);
        var slightly = Map(img, v => v + rng.Next(-3, 4));
        var badly = Map(img, v => v + rng.Next(-60, 61));
        var inverted = Map(img, v => 255 - v);
        double s1 = ImageMetrics.Ssim(img, slightly), s2 = ImageMetrics.Ssim(img, badly), s3 = ImageMetrics.Ssim(img, inverted);
        Assert.True(1 > s1 && s1 > s2 && s2 > s3, $"{s1} {s2} {s3}");
        Assert.True(s3 < 0); // anti-correlated structure
        Assert.Equal(s2, ImageMetrics.Ssim(badly, img), 12);
    }

    [Fact]
    public void Mismatched_or_tiny_images_are_refused_with_the_reason()
    {
        Assert.Contains("sizes differ", Assert.Throws<ArgumentException>(() => ImageMetrics.Psnr(new RgbaImage(4, 4), new RgbaImage(4, 5))).Message);
        Assert.Contains("11x11", Assert.Throws<ArgumentException>(() => ImageMetrics.Ssim(new RgbaImage(8, 20), new RgbaImage(8, 20))).Message);
    }
}
