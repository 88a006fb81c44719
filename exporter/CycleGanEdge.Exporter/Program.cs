using CycleGanEdge.Exporter;

return await ExportCommand.RunAsync(args, Console.Out, Console.Error);
