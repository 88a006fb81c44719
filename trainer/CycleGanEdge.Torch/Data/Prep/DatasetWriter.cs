using System.Collections.Concurrent;
using System.Text;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Torch.Data.Prep;

/// <summary>Counts of a written dataset, and the sources that could not be read.</summary>
public sealed record DatasetCounts(int TrainA, int TrainB, int TestA, int TestB, IReadOnlyList<string> Skipped);

/// <summary>
/// Writes a planned split as RGB PNGs: decode, composite onto white, fit to size x size, apply the change
/// (gray, masked), encode, write atomically. Units run in parallel; an unreadable source is named once and its unit skipped.
/// </summary>
public static class DatasetWriter
{
    public static readonly IReadOnlyList<string> Folders = ["trainA", "trainB", "testA", "testB"];
    private static readonly byte MaskGray = 128;

    /// <param name="size">Output side length (shorter side scaled to it, then a centre square); 0 keeps each image's size.</param>
    public static DatasetCounts Write(string output, IReadOnlyList<OutputUnit> units, int size, int seed,
        TextWriter log, CancellationToken ct = default)
    {
        foreach (var folder in Folders)
            Directory.CreateDirectory(Path.Combine(output, folder));
        var skipped = new ConcurrentBag<string>();
        var written = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        int done = 0;
        var progress = new Progress(units.Sum(u => u.Images.Count), log);
        Parallel.ForEach(units, new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = Environment.ProcessorCount }, unit =>
        {
            var images = new List<(OutputImage Out, ByteImage Pixels)>(unit.Images.Count);
            bool ok = true;
            foreach (var image in unit.Images)
            {
                // A pair reads the same source twice for colorize/masked: decode once per unit.
                var pixels = images.Find(p => p.Out.Source == image.Source).Pixels ?? TryLoad(image.Source, size, skipped, log);
                if (pixels is null) { ok = false; break; }
                images.Add((image, pixels));
            }
            if (ok)
            {
                foreach (var (image, pixels) in images)
                {
                    var changed = Change(pixels, image, seed);
                    AtomicFile.WriteAllBytes(Path.Combine(output, image.Folder, image.Name), EncodePng(changed));
                    written.AddOrUpdate(image.Folder, 1, (_, n) => n + 1);
                }
            }
            progress.Report(Interlocked.Add(ref done, unit.Images.Count));
        });
        int Count(string folder) => written.GetValueOrDefault(folder);
        return new DatasetCounts(Count("trainA"), Count("trainB"), Count("testA"), Count("testB"),
            skipped.Order(StringComparer.Ordinal).ToArray());
    }

    private static ByteImage? TryLoad(string path, int size, ConcurrentBag<string> skipped, TextWriter log)
    {
        try
        {
            var img = ByteImage.FromRgba(ImageCodec.Decode(path), 3, compositeOnWhite: true);
            return size > 0 ? FitSquare(img, size) : img;
        }
        catch (ImageDecodeException e)
        {
            skipped.Add(path);
            lock (log) log.WriteLine($"skipping {e.Message}");
            return null;
        }
    }

    /// <summary>Shorter side to size (bicubic), then the centre size x size square.</summary>
    internal static ByteImage FitSquare(ByteImage img, int size)
    {
        if (img.Width == size && img.Height == size)
            return img;
        double scale = (double)size / Math.Min(img.Width, img.Height);
        int w = Math.Max(size, (int)Math.Round(img.Width * scale));
        int h = Math.Max(size, (int)Math.Round(img.Height * scale));
        var resized = BicubicResize.Resize(img, w, h);
        return resized.Crop((w - size) / 2, (h - size) / 2, size, size);
    }

    private static ByteImage Change(ByteImage img, OutputImage image, int seed) => image.Change switch
    {
        ImageChange.Gray => ToGray(img),
        ImageChange.Mask => WithMask(img, MaskRectangle(img.Width, img.Height, image.Name, seed)),
        _ => img,
    };

    /// <summary>Gray stored as RGB (R = G = B), with the luma weights the loader uses, so 3-channel models read it too.</summary>
    internal static ByteImage ToGray(ByteImage img)
    {
        var data = new byte[img.Data.Length];
        for (int i = 0; i < data.Length; i += 3)
        {
            byte l = (byte)((img.Data[i] * 19595 + img.Data[i + 1] * 38470 + img.Data[i + 2] * 7471 + 0x8000) >> 16);
            data[i] = data[i + 1] = data[i + 2] = l;
        }
        return new ByteImage(img.Width, img.Height, 3, data);
    }

    /// <summary>
    /// A rectangle a quarter to a half of each side, placed at random; drawn from the seed and the file name,
    /// so an image's mask does not depend on which other images are in the set.
    /// </summary>
    public static (int X, int Y, int Width, int Height) MaskRectangle(int width, int height, string name, int seed)
    {
        var random = SeededRandom.For(seed, 0, (long)Fnv1a(name), stream: 7);
        int w = Math.Max(1, width / 4 + random.Next(width / 4 + 1));
        int h = Math.Max(1, height / 4 + random.Next(height / 4 + 1));
        return (random.Next(width - w + 1), random.Next(height - h + 1), w, h);
    }

    /// <summary>Mid-gray, not white: on white-background images a white hole could vanish into the background.</summary>
    private static ByteImage WithMask(ByteImage img, (int X, int Y, int Width, int Height) r)
    {
        var data = (byte[])img.Data.Clone();
        for (int y = r.Y; y < r.Y + r.Height; y++)
            Array.Fill(data, MaskGray, (y * img.Width + r.X) * 3, r.Width * 3);
        return new ByteImage(img.Width, img.Height, 3, data);
    }

    private static byte[] EncodePng(ByteImage img)
    {
        var rgba = new byte[img.Width * img.Height * 4];
        for (int p = 0, n = img.Width * img.Height; p < n; p++)
        {
            rgba[4 * p] = img.Data[3 * p];
            rgba[4 * p + 1] = img.Data[3 * p + 1];
            rgba[4 * p + 2] = img.Data[3 * p + 2];
            rgba[4 * p + 3] = 255;
        }
        return ImageCodec.Encode(new RgbaImage(img.Width, img.Height, rgba, hasAlpha: false), ImageFormat.Png);
    }

    private static ulong Fnv1a(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(text))
            hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }

    /// <summary>A line at every tenth of the work, so long steps show life without flooding logs.</summary>
    private sealed class Progress(int total, TextWriter log)
    {
        private int _lastTenth;

        public void Report(int done)
        {
            int tenth = total == 0 ? 10 : done * 10 / total;
            int last = _lastTenth;
            if (tenth > last && Interlocked.CompareExchange(ref _lastTenth, tenth, last) == last)
                lock (log) log.WriteLine($"  {done}/{total} images");
        }
    }
}
