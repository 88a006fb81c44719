using System.CommandLine;
using CycleGanEdge.Trainer.Commands;

var root = new RootCommand("cyclegan-train: CycleGAN training with TorchSharp")
{
    TrainCommand.Create(),
    BenchCommand.Create(),
    DataCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
