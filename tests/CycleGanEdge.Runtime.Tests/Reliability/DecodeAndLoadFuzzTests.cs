using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using CsCheck;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime.Tests.Imaging;
using CycleGanEdge.Tests.Shared;
using Xunit.Abstractions;

namespace CycleGanEdge.Runtime.Tests.Reliability;

/// <summary>
/// Mutated valid files (byte flips, truncation, insertions, deletions, length-like integers): an image decodes
/// within the pixel limit or throws ImageDecodeException naming the file; a model opens or throws
/// InvalidModelException naming the file. Anything else (another exception, a hang, a huge allocation) is a finding.
/// A few seconds each in the suite; CYCLEGAN_FUZZ_SECONDS sets a longer run.
/// </summary>
[Trait("Category", "Slow")]
public class DecodeAndLoadFuzzTests(ITestOutputHelper output)
{
    private const string ImageName = "fuzz.img";
    private static readonly ImageLimits Limits = new() { MaxPixels = 1_000_000 };
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(20);

    private static readonly Lazy<byte[][]> ImageSeeds = new(() =>
    {
        var rgb = TestImages.Random(23, 17);
        var rgba = TestImages.Random(12, 9, alpha: true);
        return
        [
            ImageCodec.Encode(rgb, ImageFormat.Png),
            ImageCodec.Encode(rgba, ImageFormat.Png),
            ImageCodec.Encode(rgb, ImageFormat.Jpeg, 80),
            ImageCodec.Encode(rgb, ImageFormat.Webp, 80),
            ImageCodec.Encode(rgba, ImageFormat.Webp, 100),
            Bmp(7, 5),
            TestFiles.Png(2, 1, colorType: 3, bitDepth: 8, rows: [[0, 1]], palette: [10, 20, 30, 200, 100, 50], transparency: [255, 128]),
            TestFiles.Png(1, 1, 0, 16, [[0x80, 0x00]]),
            TestFiles.TwoFrameGif(),
            HostileImageFiles.CmykJpeg(255, 0, 0, 255),
            HostileImageFiles.TwoFrameWebp(),
        ];
    });

    /// <summary>A 24-bit bottom-up BMP (Skia reads BMP but does not write it).</summary>
    private static byte[] Bmp(int width, int height)
    {
        int stride = (width * 3 + 3) & ~3;
        var b = new byte[54 + stride * height];
        "BM"u8.CopyTo(b);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(2), b.Length);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(28), 24);
        for (int i = 54; i < b.Length; i++) b[i] = (byte)(i * 7);
        return b;
    }

    [Fact]
    public void Mutated_images_decode_within_the_limit_or_throw_ImageDecodeException()
    {
        var seeds = ImageSeeds.Value;
        Run("image decode", Gen.Select(Gen.Int[0, seeds.Length - 1], ByteMutations.Generator.Array[1, 6]), seconds: 4, c =>
        {
            byte[] file = ByteMutations.Apply(seeds[c.Item1], c.Item2, bigEndian: true);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                var img = ImageCodec.Decode(file, ImageName, Limits);
                if ((long)img.Width * img.Height > Limits.MaxPixels)
                    throw new InvalidOperationException($"decoded {img.Width}x{img.Height}, above the limit");
                return null;
            }
            catch (ImageDecodeException e)
            {
                if (!e.Message.StartsWith(ImageName + ": ", StringComparison.Ordinal))
                    throw new InvalidOperationException($"message without the file name: {e.Message}", e);
                return e.Reason;
            }
            finally
            {
                // Pixels (4 bytes each, twice with EXIF rotation) within the limit, plus the file copy: nothing more.
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (allocated > 8 * Limits.MaxPixels + 4L * file.Length + (1 << 20))
                    throw new InvalidOperationException($"allocated {allocated} bytes for a {file.Length}-byte file");
            }
        });
    }

    [Fact]
    public void Mutated_models_open_or_throw_InvalidModelException()
    {
        byte[][] seeds = [TestModels.SmallConvNet("instance"), TestModels.Negate(new() { Io = ModelContract.IoUint8Nhwc })];
        string dir = TestFiles.TempFolder();
        var cpu = new TranslatorOptions { Provider = "cpu", Threads = 1 };
        int next = 0;
        Run("model load", Gen.Select(Gen.Int[0, seeds.Length - 1], ByteMutations.Generator.Array[1, 4]), seconds: 4, c =>
        {
            string path = Path.Combine(dir, $"m{Interlocked.Increment(ref next) % 64}.onnx");
            File.WriteAllBytes(path, ByteMutations.Apply(seeds[c.Item1], c.Item2, bigEndian: true));
            try
            {
                using var t = Translator.Open(path, cpu);
                try
                {
                    t.Translate(TestImages.Random(8, 8)); // a model that opens must run, or fail naming itself
                }
                catch (InvalidOperationException e) when (e.Message.StartsWith(path + ": inference failed", StringComparison.Ordinal))
                {
                    return "opens, inference fails";
                }
                return null;
            }
            catch (InvalidModelException e)
            {
                if (e.Path != path)
                    throw new InvalidOperationException($"message without the file name: {e.Message}", e);
                return e.Reason;
            }
        });
    }

    private void Run(string what, Gen<(int, Mutation[])> cases, int seconds, Func<(int, Mutation[]), string?> check)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("CYCLEGAN_FUZZ_SECONDS"), out int s)) seconds = s;
        long count = 0, valid = 0;
        var reasons = new ConcurrentDictionary<string, int>();
        var clock = Stopwatch.StartNew();
        cases.Sample(c =>
        {
            var task = Task.Run(() => check(c));
            if (!task.Wait(HangLimit)) // another exception type surfaces here and fails the case
                throw new TimeoutException($"no answer after {HangLimit.TotalSeconds} s");
            Interlocked.Increment(ref count);
            if (task.Result is null) Interlocked.Increment(ref valid);
            else reasons.AddOrUpdate(Shorten(task.Result), 1, (_, n) => n + 1);
        }, iter: long.MaxValue, time: seconds, threads: 1,
           print: c => $"seed {c.Item1}, mutations [{string.Join(", ", c.Item2.Select(m => m.ToString()))}]");
        output.WriteLine($"{what}: {count} cases in {clock.Elapsed.TotalSeconds:F0} s, {valid} accepted, {count - valid} refused, 0 findings");
        foreach (var (reason, n) in reasons.OrderByDescending(kv => kv.Value).Take(20))
            output.WriteLine($"  {n,8}  {reason}");
        Assert.True(count > 0);
    }

    private static string Shorten(string reason) => new(reason.Take(70).Select(c => char.IsDigit(c) ? '#' : c).ToArray());
}
