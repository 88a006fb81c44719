using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Torch.Training;

namespace CycleGanEdge.Torch.Tests.Training;

/// <summary>
/// A trivially learnable unpaired dataset: A = a coloured square or disc on a dark background,
/// B = the colour-inverted version of other such images. Written as PNGs to trainA/trainB/testA/testB.
/// </summary>
public sealed class TinyDomains : IDisposable
{
    public TinyDomains(int trainCount = 16, int testCount = 4, int size = 32, int seed = 1)
    {
        Root = Path.Combine(TempFolder.New("train"), "shapes2inverted");
        var random = new Random(seed);
        Write("trainA", trainCount, size, random, invert: false);
        Write("trainB", trainCount, size, random, invert: true);
        Write("testA", testCount, size, random, invert: false);
        Write("testB", testCount, size, random, invert: true);
        CheckpointsDir = Path.Combine(Path.GetDirectoryName(Root)!, "checkpoints");
    }

    public string Root { get; }
    public string CheckpointsDir { get; }

    /// <summary>Options for a tiny, fast, deterministic run on this data (1 thread, no augmentation randomness beyond the seed).</summary>
    public TrainOptions Options(string name, int epochs = 1) => new()
    {
        DataRoot = Root,
        Name = name,
        CheckpointsDir = CheckpointsDir,
        NetG = "resnet_6blocks",
        NetD = "basic",
        Ngf = 8,
        Ndf = 8,
        LoadSize = 32,
        CropSize = 32,
        Preprocess = "resize_and_crop",
        NEpochs = epochs,
        NEpochsDecay = 0,
        Threads = 1,
        Workers = 1,
        PoolSize = 4,
        PrintFreq = 1000,
        SaveLatestFreq = 1000,
        Seed = 7,
    };

    public void Dispose()
    {
        try { Directory.Delete(Path.GetDirectoryName(Root)!, recursive: true); }
        catch (IOException) { /* temp folder: best effort */ }
    }

    private void Write(string folder, int count, int size, Random random, bool invert)
    {
        string dir = Path.Combine(Root, folder);
        Directory.CreateDirectory(dir);
        for (int i = 0; i < count; i++)
        {
            var image = new RgbaImage(size, size);
            byte[] colour = [(byte)random.Next(128, 256), (byte)random.Next(0, 256), (byte)random.Next(0, 128)];
            bool disc = random.Next(2) == 0;
            int r = random.Next(size / 6, size / 3), cx = random.Next(r, size - r), cy = random.Next(r, size - r);
            for (int y = 0; y < size; y++)
            {
                for (int x = 0; x < size; x++)
                {
                    bool inside = disc ? (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r : Math.Abs(x - cx) <= r && Math.Abs(y - cy) <= r;
                    int p = (y * size + x) * 4;
                    for (int c = 0; c < 3; c++)
                    {
                        byte v = inside ? colour[c] : (byte)20;
                        image.Pixels[p + c] = invert ? (byte)(255 - v) : v;
                    }
                }
            }
            AtomicFile.WriteAllBytes(Path.Combine(dir, $"{i:D3}.png"), ImageCodec.Encode(image, ImageFormat.Png));
        }
    }
}
