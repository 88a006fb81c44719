using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using CycleGanEdge.Core;

namespace CycleGanEdge.Runtime;

/// <summary>
/// Builds every <see cref="InferenceSession"/> of the three programs, so each model gets the checks of
/// docs/threat-model.md (<see cref="ModelFileCheck"/>) before ONNX Runtime parses it: from a file
/// (<see cref="Create"/>) or from bytes the exporter made (<see cref="CreateInMemory"/>).
/// </summary>
public static class SessionFactory
{
    public static readonly string[] ProviderNames = ["auto", "cpu", "cuda", "directml"];

    private const string CudaProvider = "CUDAExecutionProvider";
    private const string DirectMLProvider = "DmlExecutionProvider";

    /// <summary>cpu, cuda or directml: the native ONNX Runtime package this build was made with.</summary>
    public static string BuildAccelerator { get; } =
        typeof(SessionFactory).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "Accelerator")?.Value ?? "cpu";

    /// <summary>Providers the loaded ONNX Runtime library has, by user-facing name (cpu, cuda, directml).</summary>
    public static IReadOnlyList<string> AvailableProviders()
    {
        var native = OrtEnv.Instance().GetAvailableProviders();
        var names = new List<string>();
        if (native.Contains(CudaProvider)) names.Add("cuda");
        if (native.Contains(DirectMLProvider)) names.Add("directml");
        names.Add("cpu");
        return names;
    }

    /// <summary>
    /// Opens the model on the requested provider; the name of the provider used is returned in <paramref name="provider"/>.
    /// With <paramref name="rewritten"/> (a graph made from that file, e.g. by <see cref="InstanceNormRewrite"/>) those bytes
    /// are loaded instead, never from or into the optimised-model cache. <paramref name="graphOptimization"/> other than
    /// all (bench --graph-opt) also bypasses that cache.
    /// </summary>
    public static InferenceSession Create(string modelPath, TranslatorOptions options, out string provider, byte[]? rewritten = null,
        GraphOptimizationLevel graphOptimization = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        string requested = options.Provider.ToLowerInvariant();
        if (!ProviderNames.Contains(requested))
            throw new ProviderUnavailableException($"Unknown provider '{options.Provider}'. Use one of: {string.Join(", ", ProviderNames)}.");
        if (!File.Exists(modelPath))
            throw new InvalidModelException(modelPath, "model file not found");
        ModelFileCheck.Verify(modelPath); // size limit; external data must stay in the model's folder

        if (requested != "auto")
        {
            provider = requested;
            return CreateOn(modelPath, options, requested, rewritten, graphOptimization);
        }
        // auto: the best provider this build has; a GPU that fails to start falls back to the CPU.
        foreach (string candidate in AvailableProviders())
        {
            try
            {
                provider = candidate;
                return CreateOn(modelPath, options, candidate, rewritten, graphOptimization);
            }
            catch (ProviderUnavailableException) when (candidate != "cpu")
            {
            }
        }
        throw new InvalidOperationException("unreachable: the CPU provider is always available");
    }

    private static InferenceSession CreateOn(string modelPath, TranslatorOptions options, string provider, byte[]? rewritten, GraphOptimizationLevel graphOptimization)
    {
        if (provider != "cpu" && !AvailableProviders().Contains(provider))
            throw new ProviderUnavailableException(NotInBuildMessage(provider));

        var sessionOptions = new SessionOptions();
        try
        {
            sessionOptions.GraphOptimizationLevel = graphOptimization;
            if (options.Threads > 0)
                sessionOptions.IntraOpNumThreads = options.Threads;
            if (rewritten is not null)
            {
                // The tiling session runs two shapes (thumbnail, tile): without the arena and per-shape memory
                // patterns, ONNX Runtime returns each run's memory, so the peak is one run's, not the sum rounded up.
                sessionOptions.EnableCpuMemArena = false;
                sessionOptions.EnableMemoryPattern = false;
            }
            if (options.ProfilePrefix is not null)
            {
                // The prefix first: setting EnableProfiling starts the profiler with the prefix it has then.
                sessionOptions.ProfileOutputPathPrefix = options.ProfilePrefix;
                sessionOptions.EnableProfiling = true;
            }
            try
            {
                switch (provider)
                {
                    case "cuda":
                        AppendCuda(sessionOptions, options.DeviceId);
                        break;
                    case "directml":
                        // DirectML needs these two settings (ONNX Runtime's DirectML documentation).
                        sessionOptions.EnableMemoryPattern = false;
                        sessionOptions.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
                        sessionOptions.AppendExecutionProvider_DML(options.DeviceId);
                        break;
                }
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                throw new ProviderUnavailableException(
                    $"The {provider} provider could not start on device {options.DeviceId}: {e.Message}", e);
            }

            string pathToLoad = modelPath;
            if (options.CacheOptimizedModel && rewritten is null && graphOptimization == GraphOptimizationLevel.ORT_ENABLE_ALL)
            {
                string cached = OptimizedModelPath(modelPath, provider);
                if (File.Exists(cached) && File.GetLastWriteTimeUtc(cached) >= File.GetLastWriteTimeUtc(modelPath))
                    pathToLoad = cached;
                else
                {
                    sessionOptions.OptimizedModelFilePath = cached;
                    // ONNX Runtime warns that the saved graph suits only this machine: the cache lives beside the model on this machine.
                    sessionOptions.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
                }
            }

            try
            {
                var session = rewritten is null ? new InferenceSession(pathToLoad, sessionOptions) : new InferenceSession(rewritten, sessionOptions);
                sessionOptions.Dispose(); // the session keeps what it needs
                return session;
            }
            catch (OnnxRuntimeException e)
            {
                throw new InvalidModelException(modelPath, $"ONNX Runtime cannot load it: {FirstLine(e.Message)}", e);
            }
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A CPU session on a model in memory that the exporter made (parity checks, calibration, quantization reports).
    /// <paramref name="options"/>, when given, stays the caller's to dispose.
    /// </summary>
    public static InferenceSession CreateInMemory(byte[] model, string name, SessionOptions? options = null)
    {
        ModelFileCheck.VerifyInMemory(name, model);
        try
        {
            return options is null ? new InferenceSession(model) : new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidModelException(name, $"ONNX Runtime cannot load it: {FirstLine(e.Message)}", e);
        }
    }

    /// <summary>
    /// CUDA with cuDNN's heuristic convolution search: the default (EXHAUSTIVE) times every algorithm on the first
    /// run of each input shape, which costs seconds per new image size (ONNX Runtime's CUDA provider documentation).
    /// </summary>
    private static void AppendCuda(SessionOptions sessionOptions, int deviceId)
    {
        using var cuda = new OrtCUDAProviderOptions();
        cuda.UpdateOptions(new Dictionary<string, string>
        {
            ["device_id"] = deviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["cudnn_conv_algo_search"] = "HEURISTIC",
        });
        sessionOptions.AppendExecutionProvider_CUDA(cuda);
    }

    /// <summary>Where an optimised copy of the model is cached: beside it, one per provider (optimisations differ).</summary>
    public static string OptimizedModelPath(string modelPath, string provider) =>
        System.IO.Path.ChangeExtension(modelPath, $".{provider}.optimized.onnx");

    private static string NotInBuildMessage(string provider)
    {
        string accelerator = provider == "cuda" ? "cuda" : "directml";
        return $"The {provider} provider is not in this build of cyclegan-run (built with -p:Accelerator={BuildAccelerator}; " +
               $"providers here: {string.Join(", ", AvailableProviders())}). " +
               $"Rebuild with: dotnet build -p:Accelerator={accelerator} (or dotnet publish -p:Accelerator={accelerator}), " +
               "or use --provider cpu.";
    }

    private static string FirstLine(string s) => s.Split('\n', 2)[0].Trim();
}
