using CycleGanEdge.Torch.Data;

namespace CycleGanEdge.Torch.Tests.Data;

public sealed class BicubicResizeTests
{
    private static ByteImage Gray(int w, int h, Func<int, int, int> value)
    {
        var data = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                data[y * w + x] = (byte)value(x, y);
        return new ByteImage(w, h, 1, data);
    }

    [Theory]
    [InlineData(64, 286)]
    [InlineData(286, 64)]
    [InlineData(37, 23)]
    public void A_constant_image_stays_constant(int from, int to)
    {
        var result = BicubicResize.Resize(Gray(from, from, (_, _) => 173), to, to);
        Assert.Equal((to, to), (result.Width, result.Height));
        Assert.All(result.Data, v => Assert.Equal(173, v));
    }

    [Fact]
    public void Shrinking_averages_instead_of_aliasing()
    {
        // A one-pixel checkerboard shrunk 4x: point sampling would give black/white, an antialiased kernel mid-grey.
        var result = BicubicResize.Resize(Gray(64, 64, (x, y) => (x + y) % 2 == 0 ? 255 : 0), 16, 16);
        Assert.All(result.Data, v => Assert.InRange(v, 120, 135));
    }

    [Fact]
    public void Enlarging_keeps_the_source_samples_order_and_range()
    {
        var ramp = Gray(8, 1, (x, _) => x * 32);
        var result = BicubicResize.Resize(ramp, 32, 1);
        for (int x = 1; x < 32; x++)
            Assert.True(result.Data[x] >= result.Data[x - 1], $"not monotonic at {x}");
        Assert.InRange(result.Data[0], 0, 8);
        Assert.InRange(result.Data[31], 216, 232);
    }
}
