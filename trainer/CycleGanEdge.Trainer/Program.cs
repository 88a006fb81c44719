using System.CommandLine;
using CycleGanEdge.Core.CommandLine;
using CycleGanEdge.Trainer.Commands;

namespace CycleGanEdge.Trainer;

public static class Program
{
    /// <summary>The whole command tree; one line per command.</summary>
    public static RootCommand CreateRoot() => new("CycleGAN training with TorchSharp")
    {
        TrainCommand.Create(),
        BenchCommand.Create(),
        DataCommand.Create(),
        ClassifierCommand.Create(),
    };

    public static Task<int> Main(string[] args) => CommandLineHost.InvokeAsync("cyclegan-train", CreateRoot(), args, Console.Out, Console.Error);
}
