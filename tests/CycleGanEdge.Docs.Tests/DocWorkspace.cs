using System.Diagnostics;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Tests.Shared;

namespace CycleGanEdge.Docs.Tests;

/// <summary>
/// A folder in which the docs' command lines run as written: the one place that maps each example file name the docs
/// use to a small test file. A name is made the first time a command reads it (outputs, the value of -o, are left to
/// the command), so a step that makes a file (a training's checkpoints, an export's model) is what the next step
/// reads, as for a user. Absolute example paths (/tmp/..., /dev/video0) land inside the folder.
/// </summary>
internal sealed class DocWorkspace : IDisposable
{
    private readonly TempFolder _folder = new("docs");
    private readonly string _repo;
    private readonly Dictionary<string, Action<string>> _examples;

    public DocWorkspace(string repoRoot)
    {
        _repo = repoRoot;
        string emoji = Path.Combine(repoRoot, "models", "emoji-noto2twemoji");
        string shippedModel = Path.Combine(emoji, "noto2twemoji.onnx");
        Action<string> Copy(string source) => target => File.Copy(source, target);
        Action<string> Images(int count, string extension = ".png") => target => WriteImages(target, count, extension);
        _examples = new Dictionary<string, Action<string>>(StringComparer.Ordinal)
        {
            // Generators: the shipped emoji model under every name the examples give one. The fp16 and int8 names are
            // stand-ins (the same fp32 file): the commands that read them only time or check them.
            ["noto2twemoji.onnx"] = Copy(shippedModel),
            ["twemoji2noto.onnx"] = Copy(Path.Combine(emoji, "twemoji2noto.onnx")),
            ["g.onnx"] = Copy(shippedModel),
            ["g.int8.onnx"] = Copy(shippedModel),
            ["a.onnx"] = Copy(shippedModel),
            ["b.onnx"] = Copy(Path.Combine(emoji, "twemoji2noto.onnx")),
            ["a2b.onnx"] = Copy(shippedModel),
            ["b2a.onnx"] = Copy(Path.Combine(emoji, "twemoji2noto.onnx")),
            ["horse2zebra.onnx"] = Copy(shippedModel),
            ["r9.onnx"] = Copy(shippedModel),
            ["r9.fp16.onnx"] = Copy(shippedModel),
            ["classifier.onnx"] = Copy(Path.Combine(emoji, "eval", "classifier.onnx")),
            // Image inputs: a few 64x64 emoji of the shipped test split (a larger one in big/).
            ["photos"] = Images(3),
            ["in"] = Images(3),
            ["big"] = target => WriteImages(target, 1, ".png", side: 320),
            ["shots"] = target => WriteImages(Path.Combine(target, "day1"), 2, ".jpg"),
            ["one.png"] = target => File.WriteAllBytes(target, ImageCodec.Encode(TestImage(0), ImageFormat.Png)),
            ["testA"] = target => CopyTestSplit(emoji, "testA", target),
            ["testB"] = target => CopyTestSplit(emoji, "testB", target),
            ["calib64"] = Images(4),
            ["my/photos"] = Images(3),
            ["my/paintings"] = Images(3),
            ["tmp/emoji3600"] = Images(4),
            // Videos: one second of ffmpeg's test pattern with a tone (a camera is a file here).
            ["clip.mp4"] = WriteClip,
            ["clip360.mp4"] = WriteClip,
            ["dev/video0"] = WriteClip,
            // Datasets as cyclegan-train data writes them (the data commands themselves download packages).
            ["datasets/emoji"] = target => WriteDataset(emoji, target),
            ["datasets/fluent"] = target => WriteDataset(Path.Combine(repoRoot, "models", "fluent-flat2threed"), target),
            // The shipped model folders, with 4 of their test pairs (their eval/args.txt reads test/).
            ["models/emoji-noto2twemoji"] = target => CopyModelFolder(emoji, target),
            ["models/fluent-flat2threed"] = target => CopyModelFolder(Path.Combine(repoRoot, "models", "fluent-flat2threed"), target),
        };
    }

    public string Root => _folder.Path;

    /// <summary>Absolute paths of the docs, and where they are here.</summary>
    private static readonly (string Doc, string Here)[] AbsolutePaths = [("/tmp/", "tmp/"), ("/dev/video0", "dev/video0")];

    public string Rewrite(string token)
    {
        foreach (var (doc, here) in AbsolutePaths)
            if (token.StartsWith(doc, StringComparison.Ordinal))
                return Path.Combine(Root, here + token[doc.Length..]);
        return token;
    }

    /// <summary>Makes the example a token names (relative to <paramref name="cwd"/>, or below this folder), unless it exists.</summary>
    public void Provide(string token, string cwd)
    {
        string full = Path.GetFullPath(token, cwd);
        if (!full.StartsWith(Root + "/", StringComparison.Ordinal)) return;
        string relative = Path.GetRelativePath(Root, full).TrimEnd('/');
        foreach (var (name, make) in _examples)
        {
            if (relative != name && !relative.StartsWith(name + "/", StringComparison.Ordinal)) continue;
            string target = Path.Combine(Root, name);
            if (File.Exists(target) || Directory.Exists(target)) return;
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            make(target);
            return;
        }
    }

    private void WriteImages(string folder, int count, string extension, int side = 64)
    {
        Directory.CreateDirectory(folder);
        for (int i = 0; i < count; i++)
        {
            var image = TestImage(i);
            if (side != image.Width) image = Scale(image, side, side * 3 / 4);
            File.WriteAllBytes(Path.Combine(folder, $"image{i}{extension}"), ImageCodec.Encode(image, ImageCodec.FormatFromExtension(extension)));
        }
    }

    private RgbaImage TestImage(int index)
    {
        string split = Path.Combine(_repo, "models", "emoji-noto2twemoji", "test", "testA");
        return ImageCodec.Decode(Directory.GetFiles(split).Order(StringComparer.Ordinal).ElementAt(index));
    }

    private static RgbaImage Scale(RgbaImage image, int width, int height)
    {
        var pixels = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                Array.Copy(image.Pixels, ((y * image.Height / height) * image.Width + x * image.Width / width) * 4, pixels, (y * width + x) * 4, 4);
        return new RgbaImage(width, height, pixels, image.HasAlpha);
    }

    /// <summary>The first <paramref name="count"/> files of a shipped test split (same names in testA and testB, rawA and rawB).</summary>
    private static void CopyTestSplit(string modelFolder, string split, string target, int count = 4)
    {
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(Path.Combine(modelFolder, "test", split)).Order(StringComparer.Ordinal).Take(count))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
    }

    private static void WriteDataset(string modelFolder, string target)
    {
        CopyTestSplit(modelFolder, "testA", Path.Combine(target, "trainA"));
        CopyTestSplit(modelFolder, "testB", Path.Combine(target, "trainB"));
        CopyTestSplit(modelFolder, "testA", Path.Combine(target, "testA"));
        CopyTestSplit(modelFolder, "testB", Path.Combine(target, "testB"));
    }

    private static void CopyModelFolder(string source, string target)
    {
        Directory.CreateDirectory(Path.Combine(target, "eval"));
        foreach (string model in Directory.GetFiles(source, "*.onnx"))
            File.Copy(model, Path.Combine(target, Path.GetFileName(model)));
        foreach (string name in new[] { "args.txt", "classifier.onnx" })
            File.Copy(Path.Combine(source, "eval", name), Path.Combine(target, "eval", name));
        // Every split folder of test/ (testA/testB; the emoji model's args.txt reads rawA/rawB).
        foreach (string split in Directory.GetDirectories(Path.Combine(source, "test")).Select(Path.GetFileName).OfType<string>())
            CopyTestSplit(source, split, Path.Combine(target, "test", split));
    }

    private static void WriteClip(string target)
    {
        var start = new ProcessStartInfo("ffmpeg", ["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=10", "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-f", "mp4", target]) { RedirectStandardError = true };
        using var ffmpeg = Process.Start(start)!;
        string error = ffmpeg.StandardError.ReadToEnd();
        ffmpeg.WaitForExit();
        if (ffmpeg.ExitCode != 0) throw new InvalidOperationException($"ffmpeg could not make {target}: {error}");
    }

    public void Dispose() => _folder.Dispose();
}
