using CycleGanEdge.Core.Onnx;
using Google.Protobuf;
using CycleGanEdge.Core;

namespace CycleGanEdge.Runtime.Tests.Reliability;

/// <summary>Model files that must be refused with the file named: external data outside the folder, size, damage.</summary>
public class HostileModelTests
{
    private static readonly TranslatorOptions Cpu = new() { Provider = "cpu" };
    private const string Weight = "c1.w"; // 4 x 3 x 3 x 3 floats in TestModels.SmallConvNet

    /// <summary>
    /// The small conv net with <see cref="Weight"/> moved to an external file at <paramref name="location"/>;
    /// the model goes to dir/models/model.onnx, and the weight bytes to <paramref name="dataPath"/>.
    /// </summary>
    private static string WithExternalWeight(string dir, string location, string? dataPath)
    {
        var model = ModelProto.Parser.ParseFrom(TestModels.SmallConvNet("none"));
        var tensor = model.Graph.Initializer.Single(t => t.Name == Weight);
        byte[] weights = tensor.RawData.ToByteArray();
        tensor.RawData = ByteString.Empty;
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = weights.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        Directory.CreateDirectory(Path.Combine(dir, "models"));
        if (dataPath is not null) File.WriteAllBytes(dataPath, weights);
        return TestModels.Save(model.ToByteArray(), Path.Combine(dir, "models"));
    }

    [Fact]
    public void External_data_inside_the_model_folder_loads_and_gives_the_same_output()
    {
        string dir = TestFiles.TempFolder();
        string path = WithExternalWeight(dir, "weights.bin", Path.Combine(dir, "models", "weights.bin"));
        var img = TestImages.Random(12, 8);
        using var external = Translator.Open(path, Cpu);
        using var embedded = Translator.Open(TestModels.Save(TestModels.SmallConvNet("none")), Cpu);
        Assert.Equal(embedded.Translate(img).Pixels, external.Translate(img).Pixels);
    }

    [Fact]
    public void External_data_leaving_the_model_folder_is_refused_before_onnx_runtime_reads_it()
    {
        // ONNX Runtime 1.31 refuses the first three too ("External data path escapes model directory"); we refuse
        // them first with plain words, and also names that are no file in the folder at all.
        string dir = TestFiles.TempFolder();
        string secret = Path.Combine(dir, "secret.bin");
        string linked = Path.Combine(dir, "models", "link.bin");
        var cases = new (string Location, string Reason)[]
        {
            ("../secret.bin", "outside the model's folder"),
            (secret, "which is not a file name relative to the model's folder"),
            ("link.bin", "a symbolic link to a file outside the model's folder"),
            ("*/_ORT_MEM_ADDR_/*", "which does not exist in the model's folder"), // ORT's in-memory tag: offset taken as an address
            ("missing.bin", "which does not exist in the model's folder"),
        };
        foreach (var (location, reason) in cases)
        {
            string path = WithExternalWeight(dir, location, secret);
            if (location == "link.bin" && !File.Exists(linked)) File.CreateSymbolicLink(linked, secret);
            var e = Assert.Throws<InvalidModelException>(() => Translator.Open(path, Cpu).Dispose());
            Assert.Equal($"{path}: tensor '{Weight}' keeps its data in '{location}', {reason}; refusing to load it", e.Message);
        }
    }

    [Fact]
    public async Task Bench_with_graph_opt_refuses_external_data_outside_the_folder()
    {
        // bench --graph-opt once opened its own session and skipped these checks; every session now goes through SessionFactory.
        string dir = TestFiles.TempFolder();
        string secret = Path.Combine(dir, "secret.bin");
        string path = WithExternalWeight(dir, "../secret.bin", secret);
        foreach (string level in new[] { "none", "basic", "all" })
        {
            var r = await Cli.CliRunner.RunAsync("bench", "-m", path, "--graph-opt", level, "--sizes", "16", "--iters", "1", "--warmup", "0", "--no-peak");
            Assert.Equal(Core.CommandLine.ExitCodes.Failed, r.ExitCode);
            Assert.Equal($"error: {path}: tensor '{Weight}' keeps its data in '../secret.bin', outside the model's folder; refusing to load it", r.Error.Trim());
        }
    }

    [Fact]
    public void A_model_in_memory_with_external_data_or_above_the_limit_is_refused()
    {
        var model = ModelProto.Parser.ParseFrom(TestModels.SmallConvNet("none"));
        var tensor = model.Graph.Initializer.Single(t => t.Name == Weight);
        tensor.RawData = ByteString.Empty;
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "/etc/passwd" });
        var e = Assert.Throws<InvalidModelException>(() => SessionFactory.CreateInMemory(model.ToByteArray(), "the exported model").Dispose());
        Assert.Contains("a model in memory has no folder to read it from", e.Message);

        byte[] good = TestModels.SmallConvNet("none");
        e = Assert.Throws<InvalidModelException>(() => ModelFileCheck.VerifyInMemory("the exported model", good, maxBytes: good.Length - 1));
        Assert.Contains("above the model size limit", e.Reason);
        using var session = SessionFactory.CreateInMemory(good, "the exported model");
    }

    [Fact]
    public void A_model_above_the_size_limit_is_refused_with_its_size()
    {
        string path = TestModels.Save(TestModels.SmallConvNet("none"));
        long size = new FileInfo(path).Length;
        var e = Assert.Throws<InvalidModelException>(() => ModelFileCheck.Verify(path, maxBytes: size - 1));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains("above the model size limit", e.Reason);
        Assert.Contains(ModelFileCheck.MaxSizeVariable, e.Reason);
        ModelFileCheck.Verify(path, maxBytes: size); // at the limit is fine
    }

    [Fact]
    public void Damaged_models_are_named_and_never_crash()
    {
        string dir = TestFiles.TempFolder();
        byte[] good = TestModels.SmallConvNet("none");
        var random = new byte[2000];
        new Random(3).NextBytes(random);
        var cases = new (string Name, byte[] Bytes, string Reason)[]
        {
            ("empty.onnx", [], "empty file"),
            ("truncated.onnx", good[..(good.Length * 2 / 3)], "not an ONNX model"),
            ("random.onnx", random, "not an ONNX model"),
            ("text.onnx", "this is not a model"u8.ToArray(), "not an ONNX model"),
        };
        foreach (var (name, bytes, reason) in cases)
        {
            string path = Path.Combine(dir, name);
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<InvalidModelException>(() => Translator.Open(path, Cpu).Dispose());
            Assert.Equal(path, e.Path);
            Assert.Contains(reason, e.Reason);
        }
    }

    [Fact]
    public void Graphs_nested_without_end_are_refused_without_a_stack_overflow()
    {
        // An attribute holding a graph whose node holds a graph ... 1,000 levels (3,000 messages deep): far past the limit.
        byte[] inner = [];
        for (int i = 0; i < 1_000; i++)
        {
            byte[] attribute = Field(6, inner);    // AttributeProto.g
            byte[] node = Field(5, attribute);     // NodeProto.attribute
            inner = Field(1, node);                // GraphProto.node
        }
        byte[] model = Field(7, inner);            // ModelProto.graph
        string path = TestModels.Save(model);
        var e = Assert.Throws<InvalidModelException>(() => ModelFileCheck.Verify(path));
        Assert.Contains("nested more than", e.Reason);
    }

    private static byte[] Field(int number, byte[] payload)
    {
        var s = new MemoryStream();
        var o = new CodedOutputStream(s);
        o.WriteTag(number, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(payload));
        o.Flush();
        return s.ToArray();
    }

    [Fact]
    public void Metadata_that_lies_about_the_spatial_multiple_is_caught_when_the_graph_cannot_honour_it()
    {
        // A graph that halves the size (stride-2 conv) claims spatial_multiple 1: a 13 px image cannot come back 13 px.
        var model = ModelProto.Parser.ParseFrom(TestModels.Negate(new() { SpatialMultiple = 1 }));
        var neg = model.Graph.Node.Single();
        var pool = new NodeProto { OpType = "MaxPool", Name = "halve" };
        pool.Input.Add(neg.Output[0]);
        pool.Output.Add("output");
        pool.Attribute.Add(new AttributeProto { Name = "kernel_shape", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 2, 2 } });
        pool.Attribute.Add(new AttributeProto { Name = "strides", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 2, 2 } });
        neg.Output[0] = "negated";
        pool.Input[0] = "negated";
        model.Graph.Node.Add(pool);
        string path = TestModels.Save(model.ToByteArray());
        using var t = Translator.Open(path, Cpu);
        var e = Assert.ThrowsAny<Exception>(() => t.Translate(TestImages.Random(13, 9)));
        Assert.True(e is InvalidOperationException or InvalidModelException, e.ToString());
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_damaged_metadata_entry_is_a_model_error_not_a_NullReferenceException()
    {
        // Fuzz finding (DecodeAndLoadFuzzTests): 00 00 FF FF written over a metadata entry's header. ORT loads the
        // model, then its C# ModelMetadata throws NullReferenceException reading the entry back.
        byte[] seed = TestModels.SmallConvNet("instance");
        int nullReferences = 0;
        for (int pos = seed.AsSpan().IndexOf("cyclegan."u8) - 32; pos + 4 <= seed.Length; pos++)
        {
            byte[] model = (byte[])seed.Clone();
            model[pos] = 0; model[pos + 1] = 0; model[pos + 2] = 0xFF; model[pos + 3] = 0xFF;
            string path = TestModels.Save(model);
            try
            {
                Translator.Open(path, Cpu).Dispose();
            }
            catch (InvalidModelException e)
            {
                Assert.StartsWith(path + ": ", e.Message);
                if (e.InnerException is NullReferenceException) nullReferences++;
            }
        }
        Assert.True(nullReferences > 0, "the damage no longer reaches ORT's metadata reader; move it");
    }
}
