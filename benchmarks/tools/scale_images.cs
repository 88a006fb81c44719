#:project ../../runtime/CycleGanEdge.Runtime/CycleGanEdge.Runtime.csproj
// COUNT PNGs of SIZE x SIZE made from the images of SRC (taken in name order, repeated as needed), for speed tests:
//   dotnet run benchmarks/tools/scale_images.cs -- SRC DST SIZE COUNT
using CycleGanEdge.Runtime;
using CycleGanEdge.Core.Imaging;

if (args.Length != 4) throw new ArgumentException("usage: scale_images.cs SRC DST SIZE COUNT");
var sources = Directory.GetFiles(args[0]).Where(ImageCodec.IsSupportedExtension).Order(StringComparer.Ordinal).ToArray();
int size = int.Parse(args[2]), count = int.Parse(args[3]);
Directory.CreateDirectory(args[1]);
for (int i = 0; i < count; i++)
{
    var image = ImageCodec.Decode(sources[i % sources.Length]);
    if (image.Width != size || image.Height != size) image = Translator.Resize(image, size, size);
    File.WriteAllBytes(Path.Combine(args[1], $"{i:D4}.png"), ImageCodec.Encode(image, ImageFormat.Png));
}
Console.WriteLine($"{args[1]}: {count} PNGs of {size}x{size} from {args[0]}");
