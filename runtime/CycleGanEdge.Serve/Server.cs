using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Net.Http.Headers;

namespace CycleGanEdge.Serve;

/// <summary>
/// The HTTP service: Kestrel with its limits, the routes, and one error shape (<c>{"error": "..."}</c>) for every
/// failure, so no exception text or stack trace reaches a client.
/// </summary>
public sealed class Server : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // Messages quote names ('x'); nothing here is embedded in HTML, so there is no need to escape them as \u0027.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
    /// <summary>Seconds a client is told to wait after a 503 (queue full or request timed out).</summary>
    private const int RetryAfterSeconds = 1;

    private readonly ServeSettings _settings;
    private readonly WebApplication _app;
    private readonly Dictionary<string, ModelQueue> _queues;
    private readonly ServeMetrics _metrics;
    private readonly byte[]? _apiKey;
    private readonly TextWriter _log;
    private int _admitted;
    private volatile bool _ready;

    private Server(ServeSettings settings, Dictionary<string, ModelQueue> queues, TextWriter log, ServeMetrics metrics)
    {
        _settings = settings;
        _queues = queues;
        _log = log;
        _metrics = metrics;
        _apiKey = settings.ApiKey is { } key ? Encoding.UTF8.GetBytes(key) : null;
        _app = Build();
    }

    /// <summary>Opens every model's sessions (a bad model or provider throws here, before anything listens).</summary>
    public static Server Open(ServeSettings settings, TextWriter log)
    {
        var sessionSettings = new SessionSettings(settings.Provider, settings.Threads, settings.MaxSide, settings.Alpha);
        var opened = new List<ModelSession>();
        var queues = new Dictionary<string, ModelQueue>(StringComparer.Ordinal);
        var metrics = new ServeMetrics();
        try
        {
            foreach (var (name, path) in settings.Models)
            {
                var sessions = new List<ModelSession>();
                for (int i = 0; i < settings.Sessions; i++)
                {
                    var s = ModelSession.Open(path, sessionSettings);
                    opened.Add(s);
                    sessions.Add(s);
                }
                queues[name] = new ModelQueue(name, sessions, settings, metrics);
            }
        }
        catch
        {
            foreach (var s in opened) s.Dispose();
            throw;
        }
        return new Server(settings, queues, log, metrics);
    }

    /// <summary>The command: open, listen, warm up, serve until SIGTERM or Ctrl-C, drain, exit 0.</summary>
    public static async Task<int> RunAsync(ServeSettings settings, TextWriter log)
    {
        Server server;
        try
        {
            server = Open(settings, log);
        }
        catch (Exception e) when (RuntimeAdapter.StartErrorExitCode(e) is int code)
        {
            await log.WriteLineAsync($"error: {e.Message}");
            return code;
        }
        await using (server)
        {
            try
            {
                await server.StartAsync();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or FormatException)
            {
                // Address in use, a bad --urls, no permission for the port.
                await log.WriteLineAsync($"error: cannot listen on {settings.Urls}: {e.Message}");
                return RuntimeAdapter.ExitFailed;
            }
            var first = server._queues.Values.First();
            await log.WriteLineAsync($"cyclegan-serve: listening on {string.Join(", ", server.Addresses)}; models: {string.Join(", ", server._queues.Keys)}; " +
                $"provider {first.Provider}, {settings.Sessions} session(s) x {settings.Threads} thread(s) per model, batch up to {settings.MaxBatch}; " +
                $"API key {(settings.ApiKey is null ? "off" : "on")}");
            await server._app.WaitForShutdownAsync();
            await log.WriteLineAsync("cyclegan-serve: stopped");
        }
        return RuntimeAdapter.ExitSuccess;
    }

    /// <summary>Starts listening; the sessions warm up in the background and <c>/v2/health/ready</c> says 200 once they are warm.</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        await _app.StartAsync(ct);
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.WhenAll(_queues.Values.Select(q => q.WarmUpAndStartAsync()));
                _ready = true;
            }
            catch (Exception e)
            {
                await _log.WriteLineAsync($"error: warm-up failed, the service stays not ready: {e.Message}");
            }
        }, ct);
    }

    public IReadOnlyList<string> Addresses => [.. _app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
        .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses];

    public bool Ready => _ready;

    /// <summary>Stops as SIGTERM does: no new connections, requests in flight finish (up to the drain timeout).</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        foreach (var q in _queues.Values) await q.DisposeAsync();
    }

    private WebApplication Build()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls(_settings.Urls);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = _settings.MaxBodyBytes;
            // Slow clients (slowloris) lose their connection instead of holding a request slot: at least 1 KB/s after 5 s.
            k.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 1024, gracePeriod: TimeSpan.FromSeconds(5));
            k.Limits.MinResponseDataRate = new MinDataRate(bytesPerSecond: 1024, gracePeriod: TimeSpan.FromSeconds(5));
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = _settings.DrainTimeout);
        builder.Services.AddRouting();

        var app = builder.Build();
        app.Lifetime.ApplicationStopping.Register(() => _ready = false);
        app.Use(Outermost);
        app.UseStatusCodePages(async status =>
        {
            var ctx = status.HttpContext;
            await WriteErrorAsync(ctx, ctx.Response.StatusCode, ctx.Response.StatusCode switch
            {
                StatusCodes.Status404NotFound => $"no route {ctx.Request.Path}",
                StatusCodes.Status405MethodNotAllowed => $"{ctx.Request.Method} is not allowed on {ctx.Request.Path}",
                int code => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(code),
            });
        });
        app.Use(CheckApiKey);
        app.UseRouting();
        app.MapGet("/", Page);
        app.MapGet("/v2/health/live", ctx => WriteJsonAsync(ctx, StatusCodes.Status200OK, new { live = true }));
        app.MapGet("/v2/health/ready", ctx => WriteJsonAsync(ctx, _ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable, new { ready = _ready }));
        app.MapGet("/metrics", Metrics);
        app.MapGet("/v1/models", ctx => WriteJsonAsync(ctx, StatusCodes.Status200OK, new { models = _queues.Values.Select(q => q.Descriptor) }));
        app.MapPost("/v1/models/{name}/translate", Translate);
        return app;
    }

    /// <summary>Counts and times every request, and turns what escapes a handler into a JSON error.</summary>
    private async Task Outermost(HttpContext ctx, RequestDelegate next)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            await next(ctx);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
        {
            // Kestrel's own limits: 413 body too large, 408 body arriving too slowly, 400 malformed framing.
            await WriteErrorAsync(ctx, e.StatusCode, e.Message);
        }
        catch (Exception e) when (ctx.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // The client went away mid-upload or mid-response: nobody to answer.
        }
        catch (Exception e)
        {
            await _log.WriteLineAsync($"error: {ctx.Request.Method} {ctx.Request.Path}: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
            await WriteErrorAsync(ctx, StatusCodes.Status500InternalServerError, "internal error (the service logged it)");
        }
        finally
        {
            string route = (ctx.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            _metrics.Requests.WithLabels(route, ctx.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
            _metrics.RequestSeconds.WithLabels(route).Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    private Task CheckApiKey(HttpContext ctx, RequestDelegate next)
    {
        var path = ctx.Request.Path;
        // Health is for orchestrators; the page is static HTML that holds no data (its requests carry the key).
        if (_apiKey is null || path == "/" || path.StartsWithSegments("/v2/health")) return next(ctx);
        string? given = ctx.Request.Headers["X-Api-Key"].FirstOrDefault();
        string authorization = ctx.Request.Headers.Authorization.ToString();
        if (given is null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) given = authorization["Bearer ".Length..].Trim();
        if (given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), _apiKey)) return next(ctx);
        ctx.Response.Headers.WWWAuthenticate = "Bearer";
        return WriteErrorAsync(ctx, StatusCodes.Status401Unauthorized, given is null
            ? "an API key is required: send 'Authorization: Bearer KEY' or 'X-Api-Key: KEY'"
            : "wrong API key");
    }

    private async Task Translate(HttpContext ctx)
    {
        string name = (string)ctx.Request.RouteValues["name"]!;
        if (!_queues.TryGetValue(name, out var queue))
        {
            await WriteErrorAsync(ctx, StatusCodes.Status404NotFound, $"no model named '{name}' (serving: {string.Join(", ", _queues.Keys)})");
            return;
        }
        if (!AcceptedContentType(ctx.Request.ContentType))
        {
            await WriteErrorAsync(ctx, StatusCodes.Status415UnsupportedMediaType,
                $"Content-Type '{ctx.Request.ContentType}' is not an image this service reads (image/png, image/jpeg, image/webp, or application/octet-stream)");
            return;
        }
        if (ResponseFormat(ctx.Request) is not { } format)
        {
            await WriteErrorAsync(ctx, StatusCodes.Status406NotAcceptable, "Accept names no format this service writes (image/png, image/jpeg, image/webp)");
            return;
        }
        int quality = 95;
        if (ctx.Request.Query["quality"] is { Count: > 0 } q && (!int.TryParse(q[0], out quality) || quality is < 1 or > 100))
        {
            await WriteErrorAsync(ctx, StatusCodes.Status400BadRequest, $"quality must be a whole number from 1 to 100 (100 = lossless WebP), not '{q[0]}'");
            return;
        }
        if (ctx.Request.ContentLength > _settings.MaxBodyBytes)
        {
            await WriteErrorAsync(ctx, StatusCodes.Status413PayloadTooLarge, $"the body is {ctx.Request.ContentLength:N0} bytes, above the limit of {_settings.MaxBodyBytes:N0} (--max-body)");
            return;
        }
        // Admission before the body is read: memory is bounded by --max-queue requests, whatever the clients send.
        if (Interlocked.Increment(ref _admitted) > _settings.MaxQueue)
        {
            Interlocked.Decrement(ref _admitted);
            await WriteBusyAsync(ctx, $"the service is busy ({_settings.MaxQueue} requests in progress, --max-queue); retry later");
            return;
        }
        _metrics.Admitted.Inc();
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
            deadline.CancelAfter(_settings.Timeout);
            try
            {
                using var body = new MemoryStream(ctx.Request.ContentLength is long n ? (int)n : 64 << 10);
                await ctx.Request.Body.CopyToAsync(body, deadline.Token);
                DecodedImage image;
                try
                {
                    image = Images.Decode(body.GetBuffer().AsSpan(0, (int)body.Length), _settings.MaxPixels);
                }
                catch (ImageRejectedException e)
                {
                    await WriteErrorAsync(ctx, e.Problem == DecodeProblem.TooManyPixels ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest,
                        e.Problem == DecodeProblem.TooManyPixels ? $"{e.Message} (--max-pixels)" : e.Message);
                    return;
                }
                var result = await queue.TranslateAsync(image, deadline.Token).WaitAsync(deadline.Token);
                byte[] encoded = Images.Encode(result, format, quality);
                ctx.Response.StatusCode = StatusCodes.Status200OK;
                ctx.Response.ContentType = MediaType(format);
                ctx.Response.ContentLength = encoded.Length;
                await ctx.Response.Body.WriteAsync(encoded, ctx.RequestAborted);
            }
            catch (OperationCanceledException) when (!ctx.RequestAborted.IsCancellationRequested)
            {
                await WriteBusyAsync(ctx, $"the request took longer than {_settings.Timeout.TotalSeconds:0} s (--timeout); retry later");
            }
        }
        finally
        {
            Interlocked.Decrement(ref _admitted);
            _metrics.Admitted.Dec();
        }
    }

    private static bool AcceptedContentType(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType)) return true; // sniffed from the bytes, as translate does with files
        if (!MediaTypeHeaderValue.TryParse(contentType, out var parsed)) return false;
        return parsed.MediaType.Value?.ToLowerInvariant() is "image/png" or "image/jpeg" or "image/jpg" or "image/webp" or "application/octet-stream";
    }

    /// <summary>The most preferred of PNG, JPEG, WebP in Accept (PNG when Accept is absent or takes anything); null when it takes none.</summary>
    private static EncodedFormat? ResponseFormat(HttpRequest request)
    {
        var accept = request.GetTypedHeaders().Accept;
        if (accept.Count == 0) return EncodedFormat.Png;
        foreach (var media in accept.OrderByDescending(m => m.Quality ?? 1.0))
        {
            if (media.Quality == 0) continue;
            switch (media.MediaType.Value?.ToLowerInvariant())
            {
                case "image/png" or "image/*" or "*/*": return EncodedFormat.Png;
                case "image/jpeg": return EncodedFormat.Jpeg;
                case "image/webp": return EncodedFormat.Webp;
            }
        }
        return null;
    }

    private static string MediaType(EncodedFormat format) => format switch
    {
        EncodedFormat.Jpeg => "image/jpeg",
        EncodedFormat.Webp => "image/webp",
        _ => "image/png",
    };

    private async Task Metrics(HttpContext ctx)
    {
        ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await _metrics.Registry.CollectAndExportAsTextAsync(ctx.Response.Body, ctx.RequestAborted);
    }

    private static async Task Page(HttpContext ctx)
    {
        await using var page = typeof(Server).Assembly.GetManifestResourceStream("index.html")!;
        ctx.Response.ContentType = "text/html; charset=utf-8";
        ctx.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; media-src 'self' blob:; connect-src 'self' blob:";
        await page.CopyToAsync(ctx.Response.Body, ctx.RequestAborted);
    }

    private static Task WriteBusyAsync(HttpContext ctx, string message)
    {
        ctx.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return WriteErrorAsync(ctx, StatusCodes.Status503ServiceUnavailable, message);
    }

    private static Task WriteErrorAsync(HttpContext ctx, int status, string message) => WriteJsonAsync(ctx, status, new { error = message });

    private static async Task WriteJsonAsync<T>(HttpContext ctx, int status, T value)
    {
        if (ctx.Response.HasStarted) return; // too late for another answer: the connection is cut instead
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(ctx.Response.Body, value, Json, ctx.RequestAborted);
    }
}
