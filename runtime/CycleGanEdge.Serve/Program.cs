using System.CommandLine;

namespace CycleGanEdge.Serve;

public static class Program
{
    /// <summary>
    /// The command line only decides (<see cref="ServeSettings"/>); the service runs after the parser returned, so the
    /// host alone handles SIGTERM and Ctrl-C and can drain for longer than the parser's own termination timeout.
    /// </summary>
    public static RootCommand CreateRoot(Action<ServeSettings> serve)
    {
        var models = new Option<FileInfo[]>("--model", "-m")
        {
            Description = "Exported generator (.onnx) to serve, by its file name without .onnx; repeat for more models",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        }.AcceptExistingOnly();
        models.Validators.Add(r =>
        {
            var names = (r.GetValueOrDefault<FileInfo[]>() ?? []).GroupBy(ModelName).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            if (names.Count > 0) r.AddError($"--model: two models would be named '{names[0]}' in the URL; rename one file.");
        });
        var urls = new Option<string>("--urls") { Description = "Address to listen on (use http://0.0.0.0:PORT to accept other machines)", DefaultValueFactory = _ => ServeSettings.DefaultUrls };
        var apiKey = new Option<string?>("--api-key") { Description = $"Key clients send as 'Authorization: Bearer KEY' or 'X-Api-Key: KEY' on every route but health and the page [default: ${ServeSettings.ApiKeyVariable}, else none]" };
        var provider = new Option<string>("--provider") { Description = "Execution provider: auto (best available), cpu, cuda or directml", DefaultValueFactory = _ => "auto" }
            .AcceptOnlyFromAmong([.. RuntimeAdapter.ProviderNames]);
        var sessions = AtLeastOne(new Option<int>("--sessions") { Description = "Model sessions per model, each running one batch at a time [default: one per core]" });
        var threads = AtLeast(0, new Option<int>("--threads") { Description = "Threads per model run (0 = ONNX Runtime decides)", DefaultValueFactory = _ => 1 });
        var maxBatch = AtLeastOne(new Option<int>("--max-batch") { Description = "Waiting images of one size run together, up to this many", DefaultValueFactory = _ => 8 });
        var maxQueueDelay = AtLeast(0, new Option<int>("--max-queue-delay") { Description = "Milliseconds a session waits for more images of the same size before it runs a batch", DefaultValueFactory = _ => 0 });
        var maxQueue = AtLeastOne(new Option<int>("--max-queue") { Description = "Translate requests taken in at once (waiting or running); more get 503 with Retry-After", DefaultValueFactory = _ => 64 });
        var timeout = AtLeastOne(new Option<int>("--timeout") { Description = "Seconds a translate request may take, upload included; later it gets 503", DefaultValueFactory = _ => 30 });
        var drainTimeout = AtLeast(0, new Option<int>("--drain-timeout") { Description = "Seconds SIGTERM or Ctrl-C waits for requests in flight before stopping", DefaultValueFactory = _ => 30 });
        var maxBody = AtLeastOne(new Option<int>("--max-body") { Description = "Largest request body in MB (413 above it)", DefaultValueFactory = _ => 16 });
        var maxPixels = AtLeastOne(new Option<long>("--max-pixels") { Description = "Refuse images with more pixels, from the header before decoding (413)", DefaultValueFactory = _ => ServeSettings.DefaultMaxPixels });
        var maxSide = AtLeast(0, new Option<int>("--max-side") { Description = "Scale images down so the longer side is at most this (0 = keep size)" });
        var alpha = CycleGanEdge.Core.CommandLine.AlphaOption.Create();

        var root = new RootCommand("Serve translations over HTTP with exported CycleGAN generators (ONNX Runtime on Kestrel).")
        {
            models, urls, apiKey, provider, sessions, threads, maxBatch, maxQueueDelay, maxQueue, timeout, drainTimeout, maxBody, maxPixels, maxSide, alpha,
        };
        root.SetAction(parse =>
        {
            serve(new ServeSettings
            {
                Models = parse.GetRequiredValue(models).ToDictionary(ModelName, f => f.FullName, StringComparer.Ordinal),
                Urls = parse.GetValue(urls)!,
                ApiKey = parse.GetValue(apiKey) is { Length: > 0 } key ? key
                    : Environment.GetEnvironmentVariable(ServeSettings.ApiKeyVariable) is { Length: > 0 } fromEnv ? fromEnv : null,
                Provider = parse.GetValue(provider)!,
                Sessions = parse.GetResult(sessions) is { Implicit: false } ? parse.GetValue(sessions) : Environment.ProcessorCount,
                Threads = parse.GetValue(threads),
                MaxBatch = parse.GetValue(maxBatch),
                MaxQueueDelay = TimeSpan.FromMilliseconds(parse.GetValue(maxQueueDelay)),
                MaxQueue = parse.GetValue(maxQueue),
                Timeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                DrainTimeout = TimeSpan.FromSeconds(parse.GetValue(drainTimeout)),
                MaxBodyBytes = (long)parse.GetValue(maxBody) << 20,
                MaxPixels = parse.GetValue(maxPixels),
                MaxSide = parse.GetValue(maxSide),
                Alpha = CycleGanEdge.Core.CommandLine.AlphaOption.Parse(parse.GetValue(alpha)!),
            });
            return RuntimeAdapter.ExitSuccess;
        });
        return root;
    }

    public static async Task<int> Main(string[] args)
    {
        ServeSettings? settings = null;
        int code = await RuntimeAdapter.InvokeCommandLine(CreateRoot(s => settings = s), args, Console.Out, Console.Error);
        if (code != RuntimeAdapter.ExitSuccess || settings is null) return code; // a usage error, --help or --version
        return await Server.RunAsync(settings, Console.Error);
    }

    /// <summary>The name a model file is served under: its file name without .onnx.</summary>
    public static string ModelName(FileInfo file) => Path.GetFileNameWithoutExtension(file.Name);

    private static Option<T> AtLeastOne<T>(Option<T> option) where T : System.Numerics.INumber<T> => AtLeast(T.One, option);

    private static Option<T> AtLeast<T>(T min, Option<T> option) where T : System.Numerics.INumber<T>
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<T>() < min) r.AddError($"{option.Name} must be at least {min}.");
        });
        return option;
    }
}
