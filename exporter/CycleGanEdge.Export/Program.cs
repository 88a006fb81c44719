using CycleGanEdge.Export;

return await ExportCommand.RunAsync(args, Console.Out, Console.Error);
