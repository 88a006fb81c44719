#:project ../../runtime/CycleGanEdge.Runtime/CycleGanEdge.Runtime.csproj
// Pixel difference of two folders of images paired by file name (two builds' outputs of the same inputs), per RGBA channel
// in grey levels. Exit 0 when the largest difference is at most MAX_LEVELS (and the mean at most MAX_MEAN, if given),
// 1 when above, 2 for bad input:
//   dotnet run benchmarks/tools/image_diff.cs -- DIR_A DIR_B MAX_LEVELS [MAX_MEAN]
using System.Globalization;
using CycleGanEdge.Core.Imaging;

double meanBound = double.PositiveInfinity;
if (args.Length is < 3 or > 4 || !int.TryParse(args[2], out int bound) || bound < 0
    || (args.Length == 4 && (!double.TryParse(args[3], CultureInfo.InvariantCulture, out meanBound) || meanBound < 0)))
    return Fail("usage: image_diff.cs DIR_A DIR_B MAX_LEVELS [MAX_MEAN] (MAX_LEVELS a whole number >= 0, MAX_MEAN a number >= 0)");
foreach (string dir in args[..2])
    if (!Directory.Exists(dir)) return Fail($"{dir}: no such folder");

var names = Directory.GetFiles(args[0]).Where(ImageCodec.IsSupportedExtension).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal).ToArray();
if (names.Length == 0) return Fail($"{args[0]}: no images");
long values = 0, sum = 0, differing = 0;
int max = 0;
string worst = "";
foreach (string name in names)
{
    string pathB = Path.Combine(args[1], name);
    if (!File.Exists(pathB)) return Fail($"{pathB}: missing (it is in {args[0]})");
    RgbaImage a, b;
    try
    {
        a = ImageCodec.Decode(Path.Combine(args[0], name));
        b = ImageCodec.Decode(pathB);
    }
    catch (ImageDecodeException e) { return Fail(e.Message); }
    if ((a.Width, a.Height) != (b.Width, b.Height))
        return Fail($"{pathB}: {b.Width}x{b.Height}, but {a.Width}x{a.Height} in {args[0]}");
    for (int i = 0; i < a.Pixels.Length; i++)
    {
        int d = Math.Abs(a.Pixels[i] - b.Pixels[i]);
        sum += d;
        if (d > 0) differing++;
        if (d > max) (max, worst) = (d, name);
    }
    values += a.Pixels.Length;
}
double mean = (double)sum / values;
string where = max > 0 ? $" (in {worst})" : "";
string meanLimit = double.IsPositiveInfinity(meanBound) ? "" : FormattableString.Invariant($", mean {meanBound}");
Console.WriteLine(FormattableString.Invariant(
    $"{names.Length} images, {values:N0} channel values: max {max}{where}, mean {mean:0.######} grey levels, {differing:N0} differ (bound: max {bound}{meanLimit})"));
return max <= bound && mean <= meanBound ? 0 : 1;

static int Fail(string message)
{
    Console.Error.WriteLine($"image_diff: {message}");
    return 2;
}
