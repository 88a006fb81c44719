using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using CycleGanEdge.Serve;

namespace CycleGanEdge.Serve.Tests;

/// <summary>A cyclegan-serve in this process on 127.0.0.1 (a free port), ready (warm) before the test uses it.</summary>
internal sealed class ServiceHost : IAsyncDisposable
{
    private readonly Server _server;

    private ServiceHost(Server server, Uri address)
    {
        _server = server;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri Address { get; }
    public HttpClient Client { get; }
    public Server Server => _server;

    public static string Repo([CallerFilePath] string path = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", ".."));

    /// <summary>The shipped 64 px emoji generator (RGBA input composited onto white, as its metadata says).</summary>
    public static string EmojiModel => Path.Combine(Repo(), "models", "emoji-noto2twemoji", "noto2twemoji.onnx");

    /// <summary>Raw RGBA emoji (transparent background) from the model's test set.</summary>
    public static string[] RawEmoji => [.. Directory.GetFiles(Path.Combine(Repo(), "models", "emoji-noto2twemoji", "test", "rawA"), "*.png").Order(StringComparer.Ordinal)];

    public static async Task<ServiceHost> StartAsync(Func<ServeSettings, ServeSettings>? configure = null)
    {
        var settings = new ServeSettings
        {
            Models = new Dictionary<string, string> { ["noto2twemoji"] = EmojiModel },
            Urls = "http://127.0.0.1:0",
            Sessions = 1,
            Threads = 1,
        };
        settings = configure?.Invoke(settings) ?? settings;
        var server = Server.Open(settings, TextWriter.Null);
        await server.StartAsync();
        var host = new ServiceHost(server, new Uri(server.Addresses[0]));
        var clock = Stopwatch.StartNew();
        while (!server.Ready && clock.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(20);
        Assert.True(server.Ready, "the service did not become ready within 60 s");
        return host;
    }

    public async Task<HttpResponseMessage> TranslateAsync(byte[] body, string contentType = "image/png", string model = "noto2twemoji", string? accept = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"v1/models/{model}/translate") { Content = new ByteArrayContent(body) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        // As curl does for large bodies: a body the service refuses (413) is then never sent, and the connection survives.
        if (body.Length > 64 << 10) request.Headers.ExpectContinue = true;
        return await Client.SendAsync(request);
    }

    /// <summary>The "error" of a JSON error body; fails the test if the body is anything else or holds a stack trace.</summary>
    public static async Task<string> ErrorOf(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        string body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(body);
        string message = json.RootElement.GetProperty("error").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(message));
        return message;
    }

    /// <summary>
    /// A request written by hand on a socket: headers saying <paramref name="contentLength"/> bytes and only
    /// <paramref name="sent"/> of them, so the request stays in flight (a slow client) until the test goes on.
    /// </summary>
    public async Task<Socket> StartPartialUploadAsync(byte[] body, int sent, string path = "v1/models/noto2twemoji/translate")
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(Address.Host, Address.Port);
        string head = $"POST /{path} HTTP/1.1\r\nHost: {Address.Authority}\r\nContent-Type: image/png\r\nContent-Length: {body.Length}\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head));
        await socket.SendAsync(body.AsMemory(0, sent));
        return socket;
    }

    /// <summary>Reads until the server closes or <paramref name="limit"/> passes; returns the status line and the rest.</summary>
    public static async Task<string> ReadResponseAsync(Socket socket, TimeSpan limit)
    {
        using var cts = new CancellationTokenSource(limit);
        var text = new StringBuilder();
        var buffer = new byte[64 << 10];
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0) break;
                text.Append(Encoding.Latin1.GetString(buffer, 0, n));
                // One response is enough: stop once its JSON or image body has arrived.
                string s = text.ToString();
                int end = s.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (end > 0 && ContentLength(s[..end]) is int length && s.Length - end - 4 >= length) break;
            }
        }
        catch (OperationCanceledException) { }
        return text.ToString();
    }

    private static int? ContentLength(string head)
    {
        foreach (string line in head.Split("\r\n"))
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) return int.Parse(line[15..].Trim());
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _server.StopAsync();
        await _server.DisposeAsync();
    }
}
