using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests.Evaluation;

public class PaletteSnapTests
{
    private static RgbaImage Filled(int side, params (byte R, byte G, byte B)[] stripes)
    {
        var px = new byte[side * side * 4];
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                var c = stripes[x * stripes.Length / side];
                int i = (y * side + x) * 4;
                (px[i], px[i + 1], px[i + 2], px[i + 3]) = (c.R, c.G, c.B, 255);
            }
        return new RgbaImage(side, side, px, hasAlpha: false);
    }

    [Fact]
    public void A_palette_of_an_image_with_few_colours_is_those_colours()
    {
        var image = Filled(24, (250, 10, 10), (10, 250, 10), (10, 10, 250));
        var palette = PaletteSnap.Palette([image], colours: 3);
        Assert.Equal(
            new[] { "10,10,250", "10,250,10", "250,10,10" },
            palette.Select(c => string.Join(',', c)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Snapping_replaces_each_pixel_by_the_nearest_palette_colour_and_keeps_alpha()
    {
        var palette = PaletteSnap.Palette([Filled(16, (255, 200, 0), (40, 40, 40))], colours: 2);
        var source = TestImages.Random(16, 16, alpha: true);
        var snapped = PaletteSnap.Snap(source, palette);
        for (int i = 0; i < source.Pixels.Length; i += 4)
        {
            var p = source.Pixels;
            double toYellow = Sq(p[i] - 255) + Sq(p[i + 1] - 200) + Sq(p[i + 2]);
            double toGrey = Sq(p[i] - 40) + Sq(p[i + 1] - 40) + Sq(p[i + 2] - 40);
            byte[] expected = toYellow < toGrey ? [255, 200, 0] : [40, 40, 40];
            Assert.Equal(expected, snapped.Pixels[i..(i + 3)]);
            Assert.Equal(p[i + 3], snapped.Pixels[i + 3]);
        }
        // Not the identity: the test image has many more than two colours.
        Assert.NotEqual(source.Pixels, snapped.Pixels);
    }

    private static double Sq(double v) => v * v;
}
