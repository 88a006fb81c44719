using System.Globalization;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using CycleGanEdge.Core.Imaging;
using Microsoft.ML.OnnxRuntime;

namespace CycleGanEdge.Exporter.Quantization;

/// <summary>A folder of calibration images is missing, empty or unreadable; the message starts with the folder.</summary>
public sealed class CalibrationException(string message) : Exception(message);

/// <summary>One model input made from a calibration image: float32 NCHW in [-1, 1] or uint8 NHWC, as the model's io.</summary>
public sealed record ModelInput(string Name, float[]? Floats, byte[]? Bytes, long[] Shape)
{
    public OrtValue ToOrtValue() => Floats is not null
        ? OrtValue.CreateTensorValueFromMemory(Floats, Shape)
        : OrtValue.CreateTensorValueFromMemory(Bytes!, Shape);
}

/// <summary>
/// The calibration images of <c>--calibration DIR</c> (the folder's own image files, not subfolders), turned into
/// model inputs the way <c>cyclegan-run</c> feeds the model: scaled so the longer side is the model's training size,
/// sides rounded to its spatial multiple, transparency composited as the model's metadata says (<see cref="ImagePreprocessing"/>).
/// </summary>
public static class CalibrationSet
{
    /// <summary>The image files of the folder, sorted; throws <see cref="CalibrationException"/> when there are none.</summary>
    public static IReadOnlyList<string> ImageFiles(string folder)
    {
        if (!Directory.Exists(folder))
            throw new CalibrationException($"{folder}: calibration folder not found");
        var files = Directory.EnumerateFiles(folder).Where(ImageCodec.IsSupportedExtension).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
            throw new CalibrationException($"{folder}: no images to calibrate on (looked for .png, .jpg, .jpeg, .webp, .bmp, .gif files in the folder itself)");
        return files;
    }

    /// <summary>Decodes the images; an unreadable one is reported on <paramref name="warnings"/> and skipped.</summary>
    public static IReadOnlyList<ModelInput> Load(string folder, IReadOnlyDictionary<string, string> metadata, TextWriter warnings)
    {
        var inv = CultureInfo.InvariantCulture;
        int trainSize = int.Parse(metadata[ModelContract.TrainSizeKey], inv);
        int multiple = int.Parse(metadata[ModelContract.SpatialMultipleKey], inv);
        int channels = int.Parse(metadata[ModelContract.ChannelsInKey], inv);
        bool uint8 = metadata[ModelContract.IoKey] == ModelContract.IoUint8Nhwc;
        var preprocessing = ImagePreprocessing.FromMetadata(metadata, out string? problem)
            ?? throw new CalibrationException($"{folder}: the model's {problem}");
        var inputs = new List<ModelInput>();
        foreach (string file in ImageFiles(folder))
        {
            RgbaImage image;
            try
            {
                image = ImageCodec.Decode(file);
            }
            catch (ImageDecodeException e)
            {
                warnings.WriteLine($"warning: {e.Message} (skipped)");
                continue;
            }
            inputs.Add(ToInput(Path.GetFileName(file), image, trainSize, multiple, channels, uint8, preprocessing));
        }
        if (inputs.Count == 0)
            throw new CalibrationException($"{folder}: none of its images could be read");
        return inputs;
    }

    public static ModelInput ToInput(string name, RgbaImage image, int trainSize, int multiple, int channels, bool uint8, ImagePreprocessing preprocessing)
    {
        double scale = (double)trainSize / Math.Max(image.Width, image.Height);
        int RoundSide(int side) => Math.Max(multiple, (int)Math.Round(side * scale / multiple) * multiple);
        int w = RoundSide(image.Width), h = RoundSide(image.Height);
        // Resize, then composite: the order Translator follows for --max-side.
        if (w != image.Width || h != image.Height) image = Translator.Resize(image, w, h);
        image = preprocessing.Composite(image);
        byte[] p = image.Pixels;
        int plane = w * h;
        if (uint8)
        {
            var bytes = new byte[plane * channels];
            for (int i = 0; i < plane; i++)
                for (int c = 0; c < channels; c++)
                    bytes[i * channels + c] = channels == 1 ? Luma(p, i) : p[i * 4 + c];
            return new ModelInput(name, null, bytes, [1, h, w, channels]);
        }
        var floats = new float[plane * channels];
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < channels; c++)
                floats[c * plane + i] = (channels == 1 ? Luma(p, i) : p[i * 4 + c]) / 127.5f - 1f;
        return new ModelInput(name, floats, null, [1, channels, h, w]);
    }

    /// <summary>The runtime's grey conversion (ITU-R BT.601 weights in 8-bit fixed point).</summary>
    private static byte Luma(byte[] rgba, int i) => (byte)((77 * rgba[i * 4] + 150 * rgba[i * 4 + 1] + 29 * rgba[i * 4 + 2] + 128) >> 8);
}
