using CycleGanEdge.Exporter;

return await ExportCommand.RunAsync(args);
