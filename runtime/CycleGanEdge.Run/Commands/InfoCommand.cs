using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Runtime;

namespace CycleGanEdge.Run.Commands;

public static class InfoCommand
{
    public static Command Create()
    {
        var model = SharedOptions.Model();
        var command = new Command("info", "Show a model's metadata, inputs and outputs, and the providers this build can use") { model };
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            string path = parse.GetRequiredValue(model).FullName;
            try
            {
                using var translator = Translator.Open(path, new TranslatorOptions { Provider = "cpu" });
                var m = translator.Model;
                output.WriteLine($"model:      {path}");
                output.WriteLine($"translates: {m.DomainIn} -> {m.DomainOut} ({m.Direction}, trained with {m.Method}, {m.Descriptor.Arch}, ngf {m.Descriptor.Ngf}, norm {ModelDescriptor.NormName(m.Descriptor.Norm)}, " +
                    (m.Descriptor.Output == GeneratorOutput.Residual ? "residual output, " : "") + $"{m.Precision})");
                output.WriteLine($"input:      {m.Input}");
                output.WriteLine($"output:     {m.Output}");
                output.WriteLine($"sizes:      any; padded to a multiple of {m.Descriptor.SpatialMultiple} (trained at {m.TrainSize})");
                output.WriteLine($"alpha:      {Describe(m.Preprocessing)}");
                if (!m.Preprocessing.Recorded)
                    error.WriteLine($"warning: {path}: no preprocessing metadata ({ModelContract.AlphaKey} and the keys with it; exported before they existed): " +
                        "transparent pixels reach the model with the RGB stored under them, which may not be what it was trained on; " +
                        "record what training did with 'cyclegan-export stamp' or re-export it");
                output.WriteLine("metadata:");
                foreach (var (key, value) in m.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                    output.WriteLine($"  {key} = {value}");
                output.WriteLine($"cpu:        {CpuInfo.Describe()}");
                output.WriteLine($"int8:       {CpuInfo.Int8Fit(m.Metadata) ?? $"float model; int8 models would run {CpuInfo.Int8.Name}"}");
                output.WriteLine($"build:      -p:Accelerator={SessionFactory.BuildAccelerator}");
                output.WriteLine($"providers:  {string.Join(", ", SessionFactory.AvailableProviders())}");
                return ExitCodes.Success;
            }
            catch (InvalidModelException e)
            {
                error.WriteLine($"error: {e.Message}");
                return ExitCodes.ForStartError(e);
            }
        });
        return command;
    }

    private static string Describe(ImagePreprocessing p) => p.Composites
        ? $"RGBA input composited onto {p.Background} before the model (as in training: {p.TrainPreprocess}, load size {p.LoadSize}); RGBA output has the shape the model drew on it (translate --alpha)"
        : p.Recorded
            ? $"dropped: the model gets the stored RGB of every pixel, as in training ({p.TrainPreprocess}, load size {p.LoadSize})"
            : "dropped: the model gets the stored RGB of every pixel (not recorded in the model)";
}
