namespace CycleGanEdge.Torch.Data;

/// <summary>
/// The reference's get_transform on one image: resize or scale width, then crop, then (mode "none") sizes
/// rounded to a multiple of 4, then a random horizontal flip. Random choices come from the caller's generator,
/// so the result depends only on the (seed, epoch, item) that made it.
/// </summary>
internal static class Preprocessing
{
    public static ByteImage Apply(ByteImage img, DataOptions options, ref SeededRandom random, string pathForErrors)
    {
        string mode = options.Preprocess;
        if (mode == "resize_and_crop")
            img = BicubicResize.Resize(img, options.LoadSize, options.LoadSize);
        else if (mode.StartsWith("scale_width", StringComparison.Ordinal))
            img = ScaleWidth(img, options.LoadSize, options.CropSize);

        var (x, y, size) = (0, 0, 0);
        bool crop = mode.EndsWith("crop", StringComparison.Ordinal);
        if (crop)
            (x, y, size) = CropWindow(img, options.CropSize, options.IsTraining, ref random, pathForErrors);

        if (mode == "none")
            img = MakeMultipleOf4(img);

        bool flip = options.IsTraining && !options.NoFlip && random.NextDouble() < 0.5;
        // Crop and flip in one copy.
        if (crop && (size != img.Width || size != img.Height))
            return img.Crop(x, y, size, size, flip);
        return flip ? img.FlipHorizontal() : img;
    }

    /// <summary>Width to targetWidth; height keeps the aspect but is at least cropSize (the reference's __scale_width).</summary>
    private static (int Width, int Height) ScaleWidthSize(int width, int height, int targetWidth, int cropSize)
    {
        if (width == targetWidth && height >= cropSize)
            return (width, height);
        return (targetWidth, (int)Math.Max((double)targetWidth * height / width, cropSize));
    }

    private static ByteImage ScaleWidth(ByteImage img, int targetWidth, int cropSize)
    {
        var (w, h) = ScaleWidthSize(img.Width, img.Height, targetWidth, cropSize);
        return w == img.Width && h == img.Height ? img : BicubicResize.Resize(img, w, h);
    }

    /// <summary>A random (training) or centred size x size window, like RandomCrop / CenterCrop.</summary>
    private static (int X, int Y, int Size) CropWindow(ByteImage img, int size, bool random, ref SeededRandom rng, string pathForErrors)
    {
        if (img.Width < size || img.Height < size)
            throw new DatasetException(
                $"{pathForErrors}: image is {img.Width}x{img.Height} before cropping, smaller than the crop size {size} " +
                "(use a smaller crop size, a larger load size, or preprocess resize_and_crop)");
        int x = random ? rng.Next(img.Width - size + 1) : (img.Width - size) / 2;
        int y = random ? rng.Next(img.Height - size + 1) : (img.Height - size) / 2;
        return (x, y, size);
    }

    /// <summary>Python's round() (half to even) of size/4, times 4; never below 4.</summary>
    private static int MultipleOf4(int size) => Math.Max(4, (int)Math.Round(size / 4.0, MidpointRounding.ToEven) * 4);

    private static ByteImage MakeMultipleOf4(ByteImage img)
    {
        int w = MultipleOf4(img.Width), h = MultipleOf4(img.Height);
        return w == img.Width && h == img.Height ? img : BicubicResize.Resize(img, w, h);
    }
}
