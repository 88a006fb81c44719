using System.Net;
using System.Net.Http.Headers;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Serve.Tests;

/// <summary>Bad input gets a 4xx with a JSON message and never harms the service: it still answers correctly afterwards.</summary>
public class LimitTests
{
    private static byte[] Emoji => File.ReadAllBytes(ServiceHost.RawEmoji[0]);

    [Fact]
    public async Task Bad_bodies_get_their_status_and_a_json_message_and_the_service_still_translates()
    {
        await using var host = await ServiceHost.StartAsync(s => s with { MaxBodyBytes = 1 << 20, MaxPixels = 512 * 512 });
        var cases = new (string What, byte[] Body, string Type, HttpStatusCode Status, string Says)[]
        {
            ("truncated PNG", Emoji[..(Emoji.Length / 2)], "image/png", HttpStatusCode.BadRequest, "truncated"),
            ("not an image", "hello, world"u8.ToArray(), "image/png", HttpStatusCode.BadRequest, "not an image"),
            ("empty body", [], "image/png", HttpStatusCode.BadRequest, "empty"),
            ("wrong type", Emoji, "text/plain", HttpStatusCode.UnsupportedMediaType, "text/plain"),
            ("body above --max-body", new byte[(1 << 20) + 1], "image/png", HttpStatusCode.RequestEntityTooLarge, "limit"),
            // A small file whose header promises more pixels than --max-pixels: refused before any pixel memory.
            ("pixel bomb", ImageCodec.Encode(new RgbaImage(1024, 1024), ImageFormat.Png), "image/png", HttpStatusCode.RequestEntityTooLarge, "--max-pixels"),
        };
        foreach (var c in cases)
        {
            using var response = await host.TranslateAsync(c.Body, c.Type);
            Assert.True(c.Status == response.StatusCode, $"{c.What}: {response.StatusCode}");
            Assert.Contains(c.Says, await ServiceHost.ErrorOf(response), StringComparison.OrdinalIgnoreCase);
        }
        using (var r = await host.TranslateAsync(Emoji, model: "nope"))
        {
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
            Assert.Contains("noto2twemoji", await ServiceHost.ErrorOf(r));
        }
        using (var r = await host.TranslateAsync(Emoji, accept: "text/html")) Assert.Equal(HttpStatusCode.NotAcceptable, r.StatusCode);
        using (var r = await host.Client.GetAsync("v1/models/noto2twemoji/translate")) Assert.Equal(HttpStatusCode.MethodNotAllowed, r.StatusCode);
        using (var r = await host.Client.GetAsync("no/such/route")) Assert.Equal("no route /no/such/route", await ServiceHost.ErrorOf(r));

        using var after = await host.TranslateAsync(Emoji);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.True(host.Server.Ready);
    }

    [Fact]
    public async Task A_chunked_body_above_the_limit_is_cut_off_with_413()
    {
        await using var host = await ServiceHost.StartAsync(s => s with { MaxBodyBytes = 1 << 20 });
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/models/noto2twemoji/translate")
        {
            // No Content-Length: Kestrel counts the bytes as they arrive.
            Content = new StreamContent(new MemoryStream(new byte[3 << 20])),
        };
        request.Headers.TransferEncodingChunked = true;
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        using var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await ServiceHost.ErrorOf(response);
    }

    [Fact]
    public async Task The_api_key_is_needed_on_every_route_but_health_and_the_page()
    {
        await using var host = await ServiceHost.StartAsync(s => s with { ApiKey = "s3cret" });
        foreach (string path in new[] { "v1/models", "metrics" })
        {
            using var r = await host.Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Contains("API key", await ServiceHost.ErrorOf(r));
        }
        using (var r = await host.TranslateAsync(Emoji)) Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        var wrong = new HttpRequestMessage(HttpMethod.Get, "v1/models");
        wrong.Headers.Add("X-Api-Key", "guess");
        using (var r = await host.Client.SendAsync(wrong)) Assert.Equal("wrong API key", await ServiceHost.ErrorOf(r));
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("v2/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("/")).StatusCode);

        host.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret");
        using (var r = await host.TranslateAsync(Emoji)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("metrics")).StatusCode);
    }

    [Fact]
    public async Task A_full_queue_answers_503_with_retry_after_and_takes_requests_again_when_there_is_room()
    {
        await using var host = await ServiceHost.StartAsync(s => s with { MaxQueue = 1 });
        var body = Emoji;
        // One upload in flight holds the only place.
        using var slow = await host.StartPartialUploadAsync(body, sent: 10);
        await Task.Delay(300);
        using (var busy = await host.TranslateAsync(body))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), busy.Headers.RetryAfter?.Delta);
            Assert.Contains("--max-queue", await ServiceHost.ErrorOf(busy));
        }
        // The slow request finishes and frees its place.
        await slow.SendAsync(body.AsMemory(10));
        string answer = await ServiceHost.ReadResponseAsync(slow, TimeSpan.FromSeconds(30));
        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        using var after = await host.TranslateAsync(body);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_request_slower_than_the_timeout_gets_503_and_frees_its_place()
    {
        await using var host = await ServiceHost.StartAsync(s => s with { Timeout = TimeSpan.FromSeconds(1), MaxQueue = 1 });
        var body = Emoji;
        using var slow = await host.StartPartialUploadAsync(body, sent: 10);
        string answer = await ServiceHost.ReadResponseAsync(slow, TimeSpan.FromSeconds(20));
        Assert.StartsWith("HTTP/1.1 503", answer, StringComparison.Ordinal);
        Assert.Contains("Retry-After: 1", answer, StringComparison.Ordinal);
        Assert.Contains("--timeout", answer, StringComparison.Ordinal);
        using var after = await host.TranslateAsync(body);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_upload_does_not_hold_its_place()
    {
        await using var host = await ServiceHost.StartAsync(s => s with { MaxQueue = 1 });
        var body = Emoji;
        using (var gone = await host.StartPartialUploadAsync(body, sent: 10))
            gone.Close();
        // The place is free again once Kestrel has seen the reset (bounded wait).
        HttpStatusCode status = HttpStatusCode.ServiceUnavailable;
        for (int i = 0; i < 50 && status == HttpStatusCode.ServiceUnavailable; i++)
        {
            using var r = await host.TranslateAsync(body);
            status = r.StatusCode;
            if (status == HttpStatusCode.ServiceUnavailable) await Task.Delay(100);
        }
        Assert.Equal(HttpStatusCode.OK, status);
    }
}
