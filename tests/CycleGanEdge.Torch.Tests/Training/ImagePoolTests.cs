using CycleGanEdge.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.Training;

public class ImagePoolTests
{
    [Fact]
    public void Pool_returns_new_images_until_full_then_swaps_about_half_for_stored_ones()
    {
        using var pool = new ImagePool(4);
        var random = new Random(3);
        var returned = new List<float>();
        for (int i = 0; i < 200; i++)
        {
            using var scope = NewDisposeScope();
            using var image = full(new long[] { 1, 3, 2, 2 }, (float)i);
            var result = pool.Query(image, random);
            Assert.Equal(new long[] { 1, 3, 2, 2 }, result.shape);
            float value = result[0, 0, 0, 0].item<float>();
            Assert.True((result == value).all().item<bool>(), $"query {i}: mixed values");
            returned.Add(value);
        }
        Assert.Equal([0f, 1f, 2f, 3f], returned.Take(4));
        int older = returned.Skip(4).Select((v, k) => v < k + 4 ? 1 : 0).Sum();
        Assert.InRange(older, 70, 130);
        // Every returned image was fed in earlier, and each at most once from the pool.
        Assert.All(returned.Select((v, k) => (v, k)), x => Assert.True(x.v <= x.k));
        Assert.Equal(4, pool.Count);
        Assert.All(pool.Images, t => Assert.False(t.IsInvalid));
    }

    [Fact]
    public void Pool_of_size_zero_passes_images_through()
    {
        using var pool = new ImagePool(0);
        using var image = ones(2, 3, 2, 2);
        using var result = pool.Query(image, new Random(1));
        Assert.True((result == image).all().item<bool>());
        Assert.Equal(0, pool.Count);
    }
}
