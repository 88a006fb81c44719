using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests.Evaluation;

public class ContactSheetTests
{
    private static RgbaImage Solid(int w, int h, byte r, byte g, byte b, byte a = 255)
    {
        var px = new byte[w * h * 4];
        for (int i = 0; i < px.Length; i += 4) { px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = a; }
        return new RgbaImage(w, h, px, hasAlpha: a != 255);
    }

    private static (byte R, byte G, byte B) At(RgbaImage img, int x, int y)
    {
        int i = (y * img.Width + x) * 4;
        return (img.Pixels[i], img.Pixels[i + 1], img.Pixels[i + 2]);
    }

    [Fact]
    public void Cells_are_laid_out_in_rows_and_columns_scaled_to_the_cell()
    {
        // Row 0: red (8x8), missing; row 1: green (16x8, wider than tall), blue.
        var sheet = ContactSheet.Compose(
        [
            [Solid(8, 8, 255, 0, 0), null],
            [Solid(16, 8, 0, 255, 0), Solid(4, 4, 0, 0, 255)],
        ], cellSize: 32);

        Assert.Equal(4 + 2 * 36, sheet.Width);
        Assert.Equal(4 + 2 * 36, sheet.Height);
        Assert.Equal((255, 0, 0), At(sheet, 4 + 16, 4 + 16));          // red fills its whole cell
        Assert.Equal((255, 0, 0), At(sheet, 4, 4));
        Assert.Equal((255, 255, 255), At(sheet, 40 + 16, 4 + 16));     // missing cell stays white
        Assert.Equal((255, 255, 255), At(sheet, 2, 2));                // gap
        Assert.Equal((0, 255, 0), At(sheet, 4 + 16, 40 + 16));         // green 32x16, centred vertically
        Assert.Equal((255, 255, 255), At(sheet, 4 + 16, 40 + 2));      // letterbox above it
        Assert.Equal((0, 0, 255), At(sheet, 40 + 31, 40 + 31));        // blue scaled 8x up to the full cell
    }

    [Fact]
    public void Transparent_pixels_are_shown_over_white()
    {
        var sheet = ContactSheet.Compose([[Solid(2, 2, 0, 0, 0, a: 0), Solid(2, 2, 0, 0, 0, a: 128)]], cellSize: 2);
        Assert.Equal((255, 255, 255), At(sheet, 4, 4));
        var half = At(sheet, 4 + 2 + 4, 4);
        Assert.InRange(half.R, 126, 128);
        Assert.False(sheet.HasAlpha);
    }
}
