using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Torch.Data;

namespace CycleGanEdge.Torch.Tests.Data;

public sealed class UnalignedDatasetTests : IDisposable
{
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    private DataOptions Options(int a = 5, int b = 3, int width = 40, int height = 30) 
    {
        TestImages.WriteMany(_root.Sub("trainA"), a, width, height);
        TestImages.WriteMany(_root.Sub("trainB"), b, width, height, seedOffset: 100);
        return new DataOptions { DataRoot = _root.Path, LoadSize = 36, CropSize = 32, Workers = 2, Prefetch = 2 };
    }

    private static List<UnalignedBatch> All(UnalignedDataset data, int epoch) => data.Epoch(epoch).ToList();

    [Fact]
    public void Batches_have_the_documented_shape_and_range()
    {
        using var data = new UnalignedDataset(Options() with { BatchSize = 2, OutputNc = 1 });
        Assert.Equal(5, data.Count);
        Assert.Equal(3, data.BatchesPerEpoch);
        var batches = All(data, 1);
        Assert.Equal([2, 2, 1], batches.Select(b => b.Count));
        foreach (var batch in batches)
        {
            Assert.Equal((32, 32, 3, 1), (batch.Height, batch.Width, batch.ChannelsA, batch.ChannelsB));
            Assert.Equal(batch.Count * 3 * 32 * 32, batch.A.Length);
            Assert.Equal(batch.Count * 1 * 32 * 32, batch.B.Length);
            Assert.All(batch.A, v => Assert.InRange(v, -1f, 1f));
            Assert.All(batch.B, v => Assert.InRange(v, -1f, 1f));
            Assert.Equal(batch.Count, batch.PathsA.Length);
            Assert.All(batch.PathsB, p => Assert.Contains(p, data.PathsB));
        }
        // Values really span the range (the pattern has black and full-intensity pixels).
        Assert.Contains(batches[0].A, v => v < -0.9f);
        Assert.Contains(batches[0].A, v => v > 0.9f);
    }

    [Fact]
    public void Order_and_augmentation_are_reproducible_from_seed_and_epoch()
    {
        var options = Options(a: 8, b: 8);
        using var first = new UnalignedDataset(options with { Workers = 1 });
        using var second = new UnalignedDataset(options with { Workers = 2, Prefetch = 1 });
        var e1 = All(first, 1);
        var e1Again = All(second, 1);
        Assert.Equal(e1.SelectMany(b => b.PathsA), e1Again.SelectMany(b => b.PathsA));
        Assert.Equal(e1.SelectMany(b => b.PathsB), e1Again.SelectMany(b => b.PathsB));
        Assert.Equal(e1.SelectMany(b => b.A), e1Again.SelectMany(b => b.A));
        Assert.Equal(e1.SelectMany(b => b.B), e1Again.SelectMany(b => b.B));

        // Every A once per epoch (|A| = |B|), in a different order next epoch and with another seed.
        Assert.Equal(first.PathsA.Order(), e1.SelectMany(b => b.PathsA).Order());
        Assert.NotEqual(e1.SelectMany(b => b.PathsA), All(first, 2).SelectMany(b => b.PathsA));
        using var other = new UnalignedDataset(options with { Seed = 1 });
        Assert.NotEqual(e1.SelectMany(b => b.PathsA), All(other, 1).SelectMany(b => b.PathsA));
    }

    [Fact]
    public void Starting_mid_epoch_gives_the_remaining_batches_unchanged()
    {
        using var data = new UnalignedDataset(Options(a: 7, b: 4) with { BatchSize = 2 });
        var whole = All(data, 3);
        var rest = data.Epoch(3, firstBatch: 2).ToList();
        Assert.Equal(whole.Skip(2).SelectMany(b => b.PathsA), rest.SelectMany(b => b.PathsA));
        Assert.Equal(whole.Skip(2).SelectMany(b => b.B), rest.SelectMany(b => b.B));
        Assert.Empty(data.Epoch(3, firstBatch: data.BatchesPerEpoch));
    }

    [Fact]
    public void Serial_batches_take_A_in_order_and_B_by_index_modulo()
    {
        using var data = new UnalignedDataset(Options(a: 5, b: 3) with { SerialBatches = true, BatchSize = 2 });
        var batches = All(data, 7);
        Assert.Equal(data.PathsA, batches.SelectMany(b => b.PathsA));
        Assert.Equal([0, 1, 2, 0, 1], batches.SelectMany(b => b.PathsB).Select(p => data.PathsB.ToList().IndexOf(p)));
    }

    [Fact]
    public void When_B_is_larger_A_wraps_around_like_the_reference()
    {
        using var data = new UnalignedDataset(Options(a: 2, b: 5) with { SerialBatches = true });
        Assert.Equal(5, data.Count);
        var a = All(data, 1).SelectMany(b => b.PathsA).Select(p => data.PathsA.ToList().IndexOf(p));
        Assert.Equal([0, 1, 0, 1, 0], a);
    }

    [Theory]
    [InlineData("resize_and_crop", 50, 30, 32, 32)]
    [InlineData("crop", 50, 30, 24, 24)]
    [InlineData("scale_width", 50, 30, 40, 32)]   // height max(40*30/50, crop 32)
    [InlineData("scale_width", 50, 60, 40, 48)]
    [InlineData("scale_width_and_crop", 50, 60, 32, 32)]
    [InlineData("none", 50, 30, 48, 32)]         // round(12.5) = 12 (half to even), round(7.5) = 8
    [InlineData("none", 44, 28, 44, 28)]
    public void Preprocess_modes_produce_the_reference_sizes(string mode, int w, int h, int outW, int outH)
    {
        TestImages.WriteMany(_root.Sub("trainA"), 2, w, h);
        TestImages.WriteMany(_root.Sub("trainB"), 2, w, h);
        var options = new DataOptions
        {
            DataRoot = _root.Path, Preprocess = mode, LoadSize = 40, CropSize = mode == "crop" ? 24 : 32,
        };
        using var data = new UnalignedDataset(options);
        var batch = data.Epoch(0).First();
        Assert.Equal((outW, outH), (batch.Width, batch.Height));
    }

    [Fact]
    public void Crop_larger_than_the_image_is_a_clear_error()
    {
        using var data = new UnalignedDataset(Options() with { Preprocess = "crop", CropSize = 64 });
        var e = Assert.Throws<DatasetException>(() => data.Epoch(0).First());
        Assert.Contains("smaller than the crop size 64", e.Message);
        Assert.Contains(".png", e.Message);
    }

    [Fact]
    public void Test_phase_crops_at_the_centre_without_flips_whatever_the_seed()
    {
        TestImages.WriteMany(_root.Sub("testA"), 3, 40, 30);
        TestImages.WriteMany(_root.Sub("testB"), 3, 40, 30);
        var options = new DataOptions { DataRoot = _root.Path, Phase = "test", LoadSize = 36, CropSize = 32, SerialBatches = true };
        using var one = new UnalignedDataset(options);
        using var two = new UnalignedDataset(options with { Seed = 99 });
        Assert.Equal(All(one, 1).SelectMany(b => b.A), All(two, 5).SelectMany(b => b.A));
    }

    [Fact]
    public void Flip_happens_for_some_items_and_never_with_NoFlip()
    {
        // Crop size = image size, so only the flip changes pixels.
        TestImages.WriteMany(_root.Sub("trainA"), 1, 16, 16);
        TestImages.WriteMany(_root.Sub("trainB"), 24, 16, 16);
        var options = new DataOptions { DataRoot = _root.Path, Preprocess = "crop", CropSize = 16, SerialBatches = true };
        using var flipping = new UnalignedDataset(options);
        using var plain = new UnalignedDataset(options with { NoFlip = true });
        var original = All(plain, 0).Select(b => b.A).ToList();
        Assert.All(original, a => Assert.Equal(original[0], a));
        var flipped = All(flipping, 0).Select(b => b.A).ToList();
        float[] mirrored = Mirror(original[0], 3, 16, 16);
        Assert.All(flipped, a => Assert.True(a.SequenceEqual(original[0]) || a.SequenceEqual(mirrored)));
        Assert.Contains(flipped, a => a.SequenceEqual(mirrored));
        Assert.Contains(flipped, a => a.SequenceEqual(original[0]));
    }

    private static float[] Mirror(float[] chw, int c, int h, int w)
    {
        var result = new float[chw.Length];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    result[(ch * h + y) * w + (w - 1 - x)] = chw[(ch * h + y) * w + x];
        return result;
    }

    [Fact]
    public void Gray_uses_the_reference_luma_weights_and_alpha_is_dropped_like_the_reference()
    {
        TestImages.Write(_root.Sub("testA", "a.png"), TestImages.Solid(8, 8, 200, 100, 50));
        TestImages.Write(_root.Sub("testB", "b.png"), TestImages.Solid(8, 8, 255, 0, 51, a: 0));
        var options = new DataOptions { DataRoot = _root.Path, Phase = "test", Preprocess = "none", InputNc = 1 };
        using var data = new UnalignedDataset(options);
        var batch = data.Epoch(0).Single();
        int luma = (int)Math.Round(200 * 0.299 + 100 * 0.587 + 50 * 0.114);
        Assert.All(batch.A, v => Assert.Equal(luma / 127.5f - 1f, v, 1e-6f));
        // convert('RGB'): the stored colour of fully transparent pixels, as the runtime also feeds it.
        Assert.Equal([1f, -1f, -0.6f], [batch.B[0], batch.B[64], batch.B[128]]);
    }

    [Fact]
    public void A_corrupt_file_is_skipped_and_named_once()
    {
        var options = Options(a: 4, b: 2);
        string bad = _root.Sub("trainA", "002.png");
        File.WriteAllBytes(bad, [1, 2, 3, 4, 5]);
        var warnings = new StringWriter();
        using var data = new UnalignedDataset(options with { BatchSize = 2 }, warnings);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var paths = All(data, epoch).SelectMany(b => b.PathsA).ToList();
            Assert.Equal(4, paths.Count);
            Assert.DoesNotContain(Path.GetFullPath(bad), paths);
        }
        Assert.Equal([Path.GetFullPath(bad)], data.SkippedFiles);
        string text = warnings.ToString();
        Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("002.png", text);
    }

    [Fact]
    public void Decoding_stays_at_most_Prefetch_batches_ahead()
    {
        var options = Options(a: 30, b: 2, width: 16, height: 16) with { Prefetch = 2, Workers = 2, LoadSize = 16, CropSize = 16 };
        using var data = new UnalignedDataset(options);
        using var epoch = data.Epoch(0).GetEnumerator();
        Assert.True(epoch.MoveNext());
        // The workers run ahead until the window is full: then every one of them waits for room, and nothing moves
        // until the consumer takes the next batch. Wait for that state instead of sleeping and hoping.
        bool full = SpinWait.SpinUntil(() => data.BatchesStarted == 1 + options.Prefetch && data.WorkersWaitingForRoom == options.Workers, TimeSpan.FromSeconds(30));
        Assert.True(full, $"{data.BatchesStarted} batches started, {data.WorkersWaitingForRoom} workers waiting");
        Assert.Equal(1 + options.Prefetch, data.BatchesStarted);
        int taken = 1;
        while (epoch.MoveNext()) taken++;
        Assert.Equal(30, taken);
        Assert.Equal(30, data.BatchesStarted);
    }

    [Fact]
    public void Missing_or_empty_folders_are_clear_errors()
    {
        TestImages.WriteMany(_root.Sub("trainA"), 1, 8, 8);
        var missing = Assert.Throws<DatasetException>(() => new UnalignedDataset(new DataOptions { DataRoot = _root.Path }));
        Assert.Contains("trainB", missing.Message);
        Assert.Contains("not found", missing.Message);
        Directory.CreateDirectory(_root.Sub("trainB"));
        File.WriteAllText(_root.Sub("trainB", "notes.txt"), "x");
        var empty = Assert.Throws<DatasetException>(() => new UnalignedDataset(new DataOptions { DataRoot = _root.Path }));
        Assert.Contains("no images", empty.Message);
        var bad = Assert.Throws<DatasetException>(() => new UnalignedDataset(new DataOptions { DataRoot = _root.Path, Preprocess = "zoom" }));
        Assert.Contains("zoom", bad.Message);
    }

    [Fact]
    public void Max_dataset_size_caps_each_folder_after_sorting()
    {
        using var data = new UnalignedDataset(Options(a: 5, b: 4) with { MaxDatasetSize = 2 });
        Assert.Equal(["000.png", "001.png"], data.PathsA.Select(Path.GetFileName));
        Assert.Equal(2, data.Count);
    }
}
