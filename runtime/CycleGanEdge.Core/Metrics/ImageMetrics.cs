using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Core.Metrics;

/// <summary>Full-reference metrics on the RGB channels of 8-bit images (alpha ignored), peak value 255.</summary>
public static class ImageMetrics
{
    private const double Peak = 255;

    /// <summary>Peak signal-to-noise ratio in dB over R, G and B; +∞ for identical images.</summary>
    public static double Psnr(RgbaImage a, RgbaImage b)
    {
        CheckSameSize(a, b);
        double sum = 0;
        for (int i = 0; i < a.Pixels.Length; i += 4)
            for (int c = 0; c < 3; c++)
            {
                double d = a.Pixels[i + c] - b.Pixels[i + c];
                sum += d * d;
            }
        double mse = sum / (a.Width * a.Height * 3.0);
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(Peak * Peak / mse);
    }

    /// <summary>Mean absolute difference over R, G and B, on a 0–1 scale.</summary>
    public static double L1(RgbaImage a, RgbaImage b)
    {
        CheckSameSize(a, b);
        long sum = 0;
        for (int i = 0; i < a.Pixels.Length; i += 4)
            for (int c = 0; c < 3; c++) sum += Math.Abs(a.Pixels[i + c] - b.Pixels[i + c]);
        return sum / (a.Width * a.Height * 3.0 * Peak);
    }

    /// <summary>
    /// Structural similarity (Wang et al. 2004): 11×11 Gaussian window with σ 1.5, K1 0.01, K2 0.03,
    /// statistics over windows that fit inside the image ("valid"), mean of the map, averaged over R, G, B.
    /// </summary>
    public static double Ssim(RgbaImage a, RgbaImage b)
    {
        CheckSameSize(a, b);
        const int window = 11;
        if (a.Width < window || a.Height < window)
            throw new ArgumentException($"SSIM needs images of at least {window}x{window} pixels, got {a.Width}x{a.Height}");
        double[] kernel = GaussianKernel(window, 1.5);
        const double c1 = 0.01 * Peak * 0.01 * Peak, c2 = 0.03 * Peak * 0.03 * Peak;
        int w = a.Width, h = a.Height, n = w * h;
        var x = new double[n];
        var y = new double[n];
        var products = new double[n];
        double total = 0;
        for (int c = 0; c < 3; c++)
        {
            for (int i = 0; i < n; i++)
            {
                x[i] = a.Pixels[i * 4 + c];
                y[i] = b.Pixels[i * 4 + c];
            }
            var (muX, ow, oh) = FilterValid(x, w, h, kernel);
            var (muY, _, _) = FilterValid(y, w, h, kernel);
            for (int i = 0; i < n; i++) products[i] = x[i] * x[i];
            var (xx, _, _) = FilterValid(products, w, h, kernel);
            for (int i = 0; i < n; i++) products[i] = y[i] * y[i];
            var (yy, _, _) = FilterValid(products, w, h, kernel);
            for (int i = 0; i < n; i++) products[i] = x[i] * y[i];
            var (xy, _, _) = FilterValid(products, w, h, kernel);

            double sum = 0;
            for (int i = 0; i < ow * oh; i++)
            {
                double mx = muX[i], my = muY[i];
                double varX = xx[i] - mx * mx, varY = yy[i] - my * my, cov = xy[i] - mx * my;
                sum += (2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (varX + varY + c2));
            }
            total += sum / (ow * oh);
        }
        return total / 3;
    }

    private static double[] GaussianKernel(int size, double sigma)
    {
        var k = new double[size];
        double sum = 0;
        for (int i = 0; i < size; i++)
        {
            double d = i - (size - 1) / 2.0;
            k[i] = Math.Exp(-d * d / (2 * sigma * sigma));
            sum += k[i];
        }
        for (int i = 0; i < size; i++) k[i] /= sum;
        return k;
    }

    /// <summary>Separable filtering keeping only positions where the whole window fits.</summary>
    private static (double[] Values, int Width, int Height) FilterValid(double[] src, int w, int h, double[] kernel)
    {
        int k = kernel.Length, ow = w - k + 1, oh = h - k + 1;
        var rows = new double[ow * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < ow; x++)
            {
                double s = 0;
                for (int i = 0; i < k; i++) s += kernel[i] * src[y * w + x + i];
                rows[y * ow + x] = s;
            }
        var result = new double[ow * oh];
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
            {
                double s = 0;
                for (int i = 0; i < k; i++) s += kernel[i] * rows[(y + i) * ow + x];
                result[y * ow + x] = s;
            }
        return (result, ow, oh);
    }

    private static void CheckSameSize(RgbaImage a, RgbaImage b)
    {
        if (a.Width != b.Width || a.Height != b.Height)
            throw new ArgumentException($"image sizes differ: {a.Width}x{a.Height} vs {b.Width}x{b.Height}");
    }
}
