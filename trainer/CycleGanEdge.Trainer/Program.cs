using System.CommandLine;
using CycleGanEdge.Trainer.Commands;

var root = new RootCommand("cyclegan-train: CycleGAN training with TorchSharp")
{
    TrainCommand.Create(),
    BenchCommand.Create(),
    DataCommand.Create(),
    ClassifierCommand.Create(),
};

ParseResult parse;
try
{
    parse = root.Parse(args);
}
catch (InvalidOperationException e)
{
    // Validators also run on values that could not be converted, and reading one throws: a usage error.
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors) Console.Error.WriteLine($"error: {error.Message}");
    Console.Error.WriteLine("Try 'cyclegan-train --help'.");
    return 2;
}
return await parse.InvokeAsync();
