using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Core.CommandLine;
using CycleGanEdge.Core.Onnx;
using Google.Protobuf;

namespace CycleGanEdge.Exporter.Tests.Reliability;

/// <summary>cyclegan-export check applies the runtime's file rules (ModelFileCheck) before anything else.</summary>
public class CheckHostileModelTests
{
    [Theory]
    [InlineData("../secret.bin", "outside the model's folder")]
    [InlineData("/etc/passwd", "which is not a file name relative to the model's folder")]
    public void External_data_outside_the_folder_is_one_error_line(string location, string reason)
    {
        string dir = TempFolder.New("cge-check");
        Directory.CreateDirectory(Path.Combine(dir, "models"));
        File.WriteAllBytes(Path.Combine(dir, "secret.bin"), new byte[16]);
        var weight = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        weight.Dims.Add(4);
        weight.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "g", Initializer = { weight } } };
        string path = Path.Combine(dir, "models", "model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());

        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(ExitCodes.Failed, ModelCheck.Run(path, output, error));
        Assert.Equal($"error: {path}: tensor 'w' keeps its data in '{location}', {reason}; refusing to load it{Environment.NewLine}", error.ToString());
        Assert.Equal("", output.ToString());
    }
}
