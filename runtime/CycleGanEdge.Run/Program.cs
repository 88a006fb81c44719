using System.CommandLine;
using CycleGanEdge.Run.Commands;
using CycleGanEdge.Core.CommandLine;

namespace CycleGanEdge.Run;

public static class Program
{
    /// <summary>The whole command tree; one line per command.</summary>
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("Translate images with an exported CycleGAN generator (ONNX Runtime).");
        root.Subcommands.Add(TranslateCommand.Create());
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(VideoCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        return root;
    }

    public static Task<int> Main(string[] args) => CommandLineHost.InvokeAsync("cyclegan-run", CreateRoot(), args, Console.Out, Console.Error);
}
