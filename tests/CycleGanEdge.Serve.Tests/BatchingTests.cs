using System.Net;
using System.Text.RegularExpressions;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Runtime;

namespace CycleGanEdge.Serve.Tests;

public partial class BatchingTests
{
    [Fact]
    public async Task Same_size_requests_waiting_together_run_as_one_batch_with_the_single_image_pixels()
    {
        // One session and a long --max-queue-delay: eight requests sent at once gather into fewer model runs.
        await using var host = await ServiceHost.StartAsync(s => s with { MaxBatch = 8, MaxQueueDelay = TimeSpan.FromMilliseconds(300) });
        var files = ServiceHost.RawEmoji.Take(8).ToArray();
        var responses = await Task.WhenAll(files.Select(async f => await host.TranslateAsync(await File.ReadAllBytesAsync(f))));

        using var library = Translator.Open(ServiceHost.EmojiModel, new TranslatorOptions { Threads = 1 });
        for (int i = 0; i < files.Length; i++)
        {
            Assert.Equal(HttpStatusCode.OK, responses[i].StatusCode);
            var served = ImageCodec.Decode(await responses[i].Content.ReadAsByteArrayAsync(), "response");
            var single = library.Translate(ImageCodec.Decode(files[i]));
            // A batched run may round differently from a single one, by at most one grey level.
            int worst = served.Pixels.Zip(single.Pixels, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 1, $"{files[i]}: batched output differs from the single-image one by {worst} grey levels");
        }
        string metrics = await host.Client.GetStringAsync("metrics");
        int runs = int.Parse(BatchCount().Match(metrics).Groups[1].Value);
        // Warm-up runs bypass the queue, so every counted run is a request batch.
        Assert.True(runs < files.Length, $"{files.Length} requests took {runs} model runs: nothing was batched");
        Assert.Contains($"cyclegan_serve_images_total{{model=\"noto2twemoji\"}} {files.Length}", metrics);
    }

    [GeneratedRegex(@"cyclegan_serve_batch_size_count\{model=""noto2twemoji""\} (\d+)")]
    private static partial Regex BatchCount();
}
