using CycleGanEdge.Runtime.Tiling;

namespace CycleGanEdge.Runtime.Tests;

/// <summary>The parts of tiled translation on their own; their sum against untiled runs is TileStatisticsTests and TranslatorTests.</summary>
public class TilingPartsTests
{
    [Theory]
    [InlineData(45, 30, 16, 4, 4)]
    [InlineData(300, 17, 64, 20, 4)]
    [InlineData(1000, 1000, 256, 64, 128)]
    [InlineData(8, 8, 64, 8, 4)]
    public void Tiles_start_on_the_grid_cover_the_padded_image_and_own_each_pixel_once(int width, int height, int tile, int overlap, int multiple)
    {
        var grid = new TileGrid();
        grid.Place(width, height, tile, overlap, multiple);
        Assert.Equal(Translator.PaddedSize(width, multiple), grid.TiledWidth);
        foreach (var (starts, count, length, total) in new[] { (grid.Xs, grid.Columns, grid.TileWidth, grid.TiledWidth), (grid.Ys, grid.Rows, grid.TileHeight, grid.TiledHeight) })
        {
            Assert.Equal(0, starts[0]);
            Assert.Equal(total, starts[count - 1] + length);
            var owners = new int[total];
            for (int i = 0; i < count; i++)
            {
                Assert.Equal(0, starts[i] % multiple);
                if (i > 0) Assert.True(starts[i - 1] + length - starts[i] >= grid.Overlap, "neighbours overlap by at least the overlap");
                var (from, to) = TileGrid.Owned(starts, count, i, length, total, multiple);
                Assert.True(from >= 0 && to <= length && from < to);
                for (int p = starts[i] + from; p < starts[i] + to; p++) owners[p]++;
            }
            Assert.All(owners, o => Assert.Equal(1, o));
        }
    }

    [Fact]
    public void Box_downscale_averages_the_pixels_under_each_thumbnail_pixel()
    {
        // 4x2 RGB: left half 0 and 10, right half 100 and 201: each 2x2 block averages (rounded to nearest).
        byte[] src =
        [
            0, 0, 0, 10, 10, 10, 100, 100, 100, 201, 201, 201,
            0, 0, 0, 10, 10, 10, 100, 100, 100, 201, 201, 201,
        ];
        var dst = new byte[2 * 3];
        TileStatistics.BoxDownscale(src, 4, 2, 3, dst, 2, 1);
        Assert.Equal([5, 5, 5, 151, 151, 151], dst);
    }

    [Fact]
    public void Region_statistics_combine_into_the_whole_images_by_area()
    {
        string path = TestModels.Save(TestModels.SmallConvNet("instance"));
        using var translator = Translator.Open(path, new TranslatorOptions { Provider = "cpu" });
        using var statistics = TileStatistics.Open(translator.Model, new TranslatorOptions { Provider = "cpu" })!;
        // One layer of 4 channels (SmallConvNet's instance norm); two regions of 3 and 1 pixels.
        double[] a = [1, 2, 3], b = [5];
        float Mean(double[] x) => (float)x.Average();
        float Variance(double[] x) => (float)x.Select(v => (v - x.Average()) * (v - x.Average())).Average();
        statistics.Clear();
        statistics.Add([[Mean(a), 0, 0, 0]], [[Variance(a), 0, 0, 0]], a.Length);
        statistics.Add([[Mean(b), 0, 0, 0]], [[Variance(b), 0, 0, 0]], b.Length);
        float[][] givenMean = [new float[4]], givenVariance = [new float[4]];
        double change = statistics.TakeImageStatistics(givenMean, givenVariance, 4);
        double[] all = [.. a, .. b];
        Assert.Equal(all.Average(), givenMean[0][0], 5);
        Assert.Equal(all.Select(v => (v - all.Average()) * (v - all.Average())).Average(), givenVariance[0][0], 5);
        Assert.True(change > TileStatistics.Tolerance);
        // The same sums again: nothing moves.
        statistics.Clear();
        statistics.Add([[Mean(a), 0, 0, 0]], [[Variance(a), 0, 0, 0]], a.Length);
        statistics.Add([[Mean(b), 0, 0, 0]], [[Variance(b), 0, 0, 0]], b.Length);
        Assert.True(statistics.TakeImageStatistics(givenMean, givenVariance, 4) < 1e-6);
        using var plain = Translator.Open(TestModels.Save(TestModels.SmallConvNet("none")), new TranslatorOptions { Provider = "cpu" });
        Assert.Null(TileStatistics.Open(plain.Model, new TranslatorOptions { Provider = "cpu" }));
    }
}
