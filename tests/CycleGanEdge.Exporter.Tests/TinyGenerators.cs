using CycleGanEdge.Torch.Networks;
using static TorchSharp.torch;

namespace CycleGanEdge.Exporter.Tests;

/// <summary>Small random generators for export tests (ngf 8).</summary>
internal static class TinyGenerators
{
    public static GeneratorOptions Options(string arch, string norm = "instance", int inputNc = 3, int outputNc = 3, bool dropout = false,
        string upsample = NetworkFactory.ConvTransposeUpsampling, bool antialias = false, bool residual = false) =>
        new()
        {
            Arch = arch, Ngf = 8, Norm = norm, InputNc = inputNc, OutputNc = outputNc, UseDropout = dropout, Upsample = upsample, Antialias = antialias,
            Residual = residual,
        };

    /// <summary>
    /// A generator with random weights. With batch norm, training-mode passes first move the running statistics
    /// far from their (0, 1) start, so folding and eval-mode export are really exercised.
    /// </summary>
    public static nn.Module<Tensor, Tensor> Create(GeneratorOptions options, int seed = 1)
    {
        random.manual_seed(seed);
        var generator = NetworkFactory.CreateGenerator(options);
        if (options.Norm == "batch")
        {
            generator.train();
            int side = Side(options);
            using (no_grad())
                for (int i = 0; i < 8; i++)
                {
                    using var scope = NewDisposeScope();
                    generator.forward(rand(2, options.InputNc, side, side) * 1.5 - 0.3);
                }
        }
        generator.eval();
        return generator;
    }

    public static int Side(GeneratorOptions options) => Math.Max(32, NetworkFactory.SpatialMultiple(options));

    /// <summary>
    /// Parity means little if the output is constant or saturated at ±1: check the reference output varies.
    /// Returns (standard deviation, fraction of |y| above 0.99).
    /// </summary>
    public static (double Std, double Saturated) OutputSpread(nn.Module<Tensor, Tensor> generator, GeneratorOptions options)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        int side = Side(options);
        var y = generator.forward(rand(1, options.InputNc, side, side) * 2 - 1);
        return (y.std().item<float>(), (y.abs() > 0.99).to(float32).mean().item<float>());
    }
}
