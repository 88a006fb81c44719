using System.Net;
using System.Text.Json;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Runtime;

namespace CycleGanEdge.Serve.Tests;

public class TranslateTests
{
    [Fact]
    public async Task Served_pixels_equal_the_library_translation_of_the_same_file_alpha_included()
    {
        await using var host = await ServiceHost.StartAsync();
        using var library = Translator.Open(ServiceHost.EmojiModel, new TranslatorOptions { Threads = 1 });
        foreach (string file in ServiceHost.RawEmoji.Take(3))
        {
            var input = ImageCodec.Decode(file);
            Assert.True(input.HasAlpha, $"{file} should be a raw RGBA emoji");
            var expected = library.Translate(input);

            using var response = await host.TranslateAsync(await File.ReadAllBytesAsync(file));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
            var served = ImageCodec.Decode(await response.Content.ReadAsByteArrayAsync(), "response");
            Assert.Equal((expected.Width, expected.Height, expected.HasAlpha), (served.Width, served.Height, served.HasAlpha));
            Assert.Equal(expected.Pixels, served.Pixels);
            // The translation did something: the output is not the input (its transparent RGB is arbitrary, its alpha kept).
            Assert.NotEqual(input.Pixels, served.Pixels);
        }
    }

    [Fact]
    public async Task Models_lists_each_model_with_its_descriptor()
    {
        await using var host = await ServiceHost.StartAsync();
        using var json = JsonDocument.Parse(await host.Client.GetStringAsync("v1/models"));
        var model = Assert.Single(json.RootElement.GetProperty("models").EnumerateArray());
        Assert.Equal("noto2twemoji", model.GetProperty("name").GetString());
        Assert.Equal("cyclegan", model.GetProperty("kind").GetString());
        Assert.Equal(64, model.GetProperty("size").GetInt32());
        Assert.Equal("instance", model.GetProperty("norm").GetString());
        Assert.Equal("fp32", model.GetProperty("precision").GetString());
        Assert.Equal("composite", model.GetProperty("alpha").GetString());
    }

    [Theory]
    [InlineData("image/jpeg", "image/jpeg")]
    [InlineData("image/webp", "image/webp")]
    [InlineData("image/webp;q=0.5, image/jpeg", "image/jpeg")]
    [InlineData("*/*", "image/png")]
    public async Task Accept_chooses_the_output_format(string accept, string expected)
    {
        await using var host = await ServiceHost.StartAsync();
        using var response = await host.TranslateAsync(await File.ReadAllBytesAsync(ServiceHost.RawEmoji[0]), accept: accept);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, response.Content.Headers.ContentType?.MediaType);
        var image = ImageCodec.Decode(await response.Content.ReadAsByteArrayAsync(), "response");
        Assert.Equal((64, 64), (image.Width, image.Height));
    }

    [Fact]
    public async Task Jpeg_and_webp_inputs_are_read_like_png()
    {
        await using var host = await ServiceHost.StartAsync();
        var input = ImageCodec.Decode(ServiceHost.RawEmoji[0]);
        foreach (var (format, type) in new[] { (ImageFormat.Jpeg, "image/jpeg"), (ImageFormat.Webp, "image/webp") })
        {
            using var response = await host.TranslateAsync(ImageCodec.Encode(input, format, 90), type);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Health_is_live_and_ready_after_warm_up_and_metrics_count_requests_and_images()
    {
        await using var host = await ServiceHost.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("v2/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("v2/health/ready")).StatusCode);
        using (var r = await host.TranslateAsync(await File.ReadAllBytesAsync(ServiceHost.RawEmoji[0]))) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await host.TranslateAsync([1, 2, 3])) Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        string metrics = await host.Client.GetStringAsync("metrics");
        Assert.Contains("cyclegan_serve_requests_total{route=\"/v1/models/{name}/translate\",status=\"200\"} 1", metrics);
        Assert.Contains("cyclegan_serve_requests_total{route=\"/v1/models/{name}/translate\",status=\"400\"} 1", metrics);
        Assert.Contains("cyclegan_serve_images_total{model=\"noto2twemoji\"} 1", metrics);
        Assert.Contains("cyclegan_serve_batch_size_count{model=\"noto2twemoji\"} 1", metrics);
        Assert.Contains("process_working_set_bytes ", metrics);
        Assert.Contains("cyclegan_serve_queue_length{model=\"noto2twemoji\"}", metrics);
    }

    [Fact]
    public async Task The_page_is_served_at_the_root()
    {
        await using var host = await ServiceHost.StartAsync();
        using var response = await host.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        string html = await response.Content.ReadAsStringAsync();
        Assert.Contains("v1/models", html);
        Assert.Contains("id=\"output\"", html);
    }
}
