using CycleGanEdge.Tests.Shared;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Networks;
using TorchSharp;
using static CycleGanEdge.Torch.Networks.NetworkFactory;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.CheckpointTests;

public sealed class CheckpointFileTests : IDisposable
{
    private readonly string folder = TempFolder.New("ckpt-tests");

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string PathOf(string name) => Path.Combine(folder, name);

    private static CheckpointHeader GeneratorHeader(GeneratorOptions options) => new()
    {
        Kind = CheckpointKinds.Generator,
        Generator = options,
        Direction = "AtoB",
        DomainIn = "horse",
        DomainOut = "zebra",
        TrainSize = 32,
        Epoch = 7,
        Extra = new Dictionary<string, string> { ["lambda_A"] = "10", ["note"] = "ünïcode ✓" },
    };

    [Fact]
    public void Round_trip_keeps_every_dtype_bit_for_bit_and_the_header()
    {
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["a.weight"] = randn(2, 3, 4),
            ["b.double"] = randn(new long[] { 5 }, ScalarType.Float64),
            ["c.num_batches_tracked"] = tensor(123456789012L),
            ["d.half"] = randn(3, 2).to(ScalarType.Float16),
            ["e.empty"] = zeros(0, 5),
            ["f.special"] = tensor(new[] { float.NaN, float.PositiveInfinity, -0f, float.Epsilon }),
        };
        var header = GeneratorHeader(new GeneratorOptions { Arch = "unet_128", InputNc = 1, Ngf = 16, Norm = "batch", UseDropout = true });
        string path = PathOf("latest_net_G_A.ckpt");

        CheckpointFile.Save(path, header, tensors);
        var (loaded, back) = CheckpointFile.Load(path);

        Assert.Equal(tensors.Keys, back.Keys);
        foreach (var (name, original) in tensors)
        {
            Assert.Equal(original.dtype, back[name].dtype);
            Assert.Equal(original.shape, back[name].shape);
            Assert.True(original.bytes.SequenceEqual(back[name].bytes), $"{name} differs");
        }
        Assert.Equal(header.Generator, loaded.Generator);
        Assert.Equal(header with { Extra = loaded.Extra }, loaded);
        Assert.Equal(header.Extra.OrderBy(kv => kv.Key), loaded.Extra.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void Header_without_optional_fields_round_trips()
    {
        string path = PathOf("opt.ckpt");
        var header = new CheckpointHeader { Kind = CheckpointKinds.Optimizer, Epoch = 3 };
        CheckpointFile.Save(path, header, new Dictionary<string, Tensor>());
        var (loaded, tensors) = CheckpointFile.Load(path);
        Assert.Empty(tensors);
        Assert.Null(loaded.Generator);
        Assert.Null(loaded.Discriminator);
        Assert.Empty(loaded.Extra);
        Assert.Equal(header with { Extra = loaded.Extra }, loaded);
    }

    [Fact]
    public void Module_round_trip_restores_parameters_and_buffers()
    {
        using var scope = NewDisposeScope();
        var options = new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 4, Norm = "batch" };
        using var source = CreateGenerator(options);
        InitWeights(source, "normal", 0.02);
        source.train();
        source.forward(rand(2, 3, 16, 16)); // moves the batch norm running statistics
        string path = PathOf("net.ckpt");
        CheckpointFile.SaveModule(path, GeneratorHeader(options), source);

        using var target = CreateGenerator(options);
        var header = CheckpointFile.LoadInto(path, target);
        Assert.Equal(options, header.Generator);
        var expected = source.state_dict();
        var actual = target.state_dict();
        Assert.Contains(expected.Keys, k => k.EndsWith("running_mean"));
        Assert.Contains(expected.Keys, k => k.EndsWith("num_batches_tracked"));
        foreach (var (name, t) in expected)
            Assert.True(t.bytes.SequenceEqual(actual[name].bytes), $"{name} differs");
    }

    [Fact]
    public void LoadGenerator_rebuilds_from_the_header_in_eval_mode()
    {
        using var scope = NewDisposeScope();
        var options = new GeneratorOptions { Arch = "encoder_decoder", Ngf = 8, Norm = "batch", UseDropout = true, InputNc = 1 };
        using var source = CreateGenerator(options);
        source.train();
        source.forward(rand(4, 1, 28, 28));
        source.eval();
        string path = PathOf("latest_net_G_A.ckpt");
        CheckpointFile.SaveModule(path, GeneratorHeader(options), source);

        var (generator, header) = CheckpointFile.LoadGenerator(path);
        using var _ = generator;
        Assert.False(generator.training);
        Assert.Equal("zebra", header.DomainOut);
        var x = rand(2, 1, 28, 28);
        Assert.True(source.forward(x).allclose(generator.forward(x), rtol: 0, atol: 0));
    }

    [Fact]
    public void LoadGenerator_refuses_a_discriminator_checkpoint()
    {
        using var d = CreateDiscriminator(new DiscriminatorOptions { Ndf = 4 });
        string path = PathOf("latest_net_D_A.ckpt");
        CheckpointFile.SaveModule(path, new CheckpointHeader { Kind = CheckpointKinds.Discriminator, Discriminator = new() { Ndf = 4 } }, d);
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFile.LoadGenerator(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains("not a generator", e.Message);
    }

    [Fact]
    public void LoadInto_names_missing_unexpected_and_mismatched_keys()
    {
        var six = new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 4 };
        using var small = CreateGenerator(six);
        string path = PathOf("six.ckpt");
        CheckpointFile.SaveModule(path, GeneratorHeader(six), small);

        using var nine = CreateGenerator(six with { Arch = "resnet_9blocks" });
        var missing = Assert.Throws<InvalidDataException>(() => CheckpointFile.LoadInto(path, nine));
        Assert.StartsWith(path + ": ", missing.Message);
        Assert.Contains("missing keys: model.16.conv_block.1.weight", missing.Message);
        Assert.Contains("unexpected keys: model.16.weight", missing.Message); // six blocks: first upconv at 16

        using var wider = CreateGenerator(six with { Ngf = 8 });
        var shape = Assert.Throws<InvalidDataException>(() => CheckpointFile.LoadInto(path, wider));
        Assert.Contains("shape mismatch: model.1.weight (file [4, 3, 7, 7], network [8, 3, 7, 7])", shape.Message);
        Assert.DoesNotContain("missing", shape.Message);

        using var batch = CreateGenerator(six with { Norm = "batch" });
        var norm = Assert.Throws<InvalidDataException>(() => CheckpointFile.LoadInto(path, batch));
        Assert.Contains("missing keys: model.2.weight", norm.Message); // batch norm brings affine parameters
        Assert.Contains("unexpected keys: model.1.bias", norm.Message); // and takes the bias off the convolutions
        Assert.Contains("more", norm.Message); // long lists are cut short
    }

    [Fact]
    public void A_flipped_byte_is_reported_with_the_file_name()
    {
        string path = SaveSmall("flip.ckpt");
        byte[] bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(path));
        Assert.Equal($"{path}: checksum mismatch: the file is corrupt or truncated", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(33)]
    [InlineData(200)]
    public void A_truncated_file_is_reported_with_the_file_name(int cut)
    {
        string path = SaveSmall("cut.ckpt");
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^cut]);
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(path));
        Assert.StartsWith(path + ": ", e.Message);
    }

    [Fact]
    public void Foreign_and_empty_files_are_rejected_clearly()
    {
        string foreign = PathOf("model.pth");
        File.WriteAllText(foreign, "PK\u0003\u0004 this is a zip, as PyTorch writes, and long enough to pass the size check");
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(foreign));
        Assert.Equal($"{foreign}: not a CycleGanEdge checkpoint (wrong magic bytes)", e.Message);

        string empty = PathOf("empty.ckpt");
        File.WriteAllBytes(empty, []);
        var tooShort = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(empty));
        Assert.Equal($"{empty}: 0 bytes is too short to be a checkpoint", tooShort.Message);

        var missing = Assert.Throws<FileNotFoundException>(() => CheckpointFile.Load(PathOf("nope.ckpt")));
        Assert.Contains("nope.ckpt", missing.Message);
    }

    [Fact]
    public void Sizes_beyond_the_file_are_rejected_before_allocating()
    {
        // A well-formed file (valid checksum) whose one tensor claims 2^40 x 2^20 float32 elements.
        string path = PathOf("huge.ckpt");
        File.WriteAllBytes(path, Sealed(Body(tensorName: "w", dims: [1L << 40, 1L << 20], payload: new byte[16])));
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(path));
        Assert.StartsWith($"{path}: tensor 'w' claims shape", e.Message);

        string negative = PathOf("negative.ckpt");
        File.WriteAllBytes(negative, Sealed(Body(tensorName: "w", dims: [-4], payload: new byte[16])));
        Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(negative));

        string badHeader = PathOf("header.ckpt");
        File.WriteAllBytes(badHeader, Sealed(Body(tensorName: null, dims: [], payload: [], json: "{not json")));
        var h = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(badHeader));
        Assert.StartsWith($"{badHeader}: header is not valid JSON", h.Message);

        string noKind = PathOf("nokind.ckpt");
        File.WriteAllBytes(noKind, Sealed(Body(tensorName: null, dims: [], payload: [], json: "{\"Epoch\":1}")));
        Assert.Equal($"{noKind}: header has no kind", Assert.Throws<InvalidDataException>(() => CheckpointFile.Load(noKind)).Message);
    }

    [Fact]
    public void Save_is_atomic_and_leaves_no_temp_file()
    {
        string path = SaveSmall("latest_net_G_B.ckpt");
        Assert.Equal(["latest_net_G_B.ckpt"], Directory.GetFiles(folder).Select(Path.GetFileName));
        byte[] before = File.ReadAllBytes(path);

        // A failure half-way through writing (an empty tensor name is refused while writing) keeps the old file.
        using var t = zeros(2);
        var tensors = new Dictionary<string, Tensor> { ["ok"] = t, [""] = t };
        Assert.Throws<ArgumentException>(() => CheckpointFile.Save(path, new CheckpointHeader { Kind = "generator" }, tensors));
        Assert.Equal(["latest_net_G_B.ckpt"], Directory.GetFiles(folder).Select(Path.GetFileName));
        Assert.Equal(before, File.ReadAllBytes(path));

        // Saving again replaces the file in place.
        CheckpointFile.Save(path, new CheckpointHeader { Kind = "generator", Epoch = 9 }, new Dictionary<string, Tensor> { ["ok"] = t });
        Assert.Equal(9, CheckpointFile.Load(path).Header.Epoch);
        Assert.Single(Directory.GetFiles(folder));
    }

    [Fact]
    public void Unsupported_dtypes_are_refused_by_name()
    {
        using var t = zeros(new long[] { 2 }, ScalarType.Int32);
        var e = Assert.Throws<ArgumentException>(() => CheckpointFile.Save(PathOf("x.ckpt"),
            new CheckpointHeader { Kind = "generator" }, new Dictionary<string, Tensor> { ["counts"] = t }));
        Assert.Contains("counts", e.Message);
        Assert.Contains("Float16", e.Message);
        Assert.Empty(Directory.GetFiles(folder));
    }

    private string SaveSmall(string name)
    {
        using var scope = NewDisposeScope();
        string path = PathOf(name);
        var tensors = new Dictionary<string, Tensor> { ["w"] = randn(8, 8), ["b"] = randn(8) };
        CheckpointFile.Save(path, new CheckpointHeader { Kind = CheckpointKinds.Generator }, tensors);
        return path;
    }

    // Hand-built files following the documented layout, for cases Save never writes.
    private static byte[] Body(string? tensorName, long[] dims, byte[] payload, string json = "{\"Kind\":\"generator\"}")
    {
        var body = new MemoryStream();
        var w = new BinaryWriter(body);
        w.Write("CGEDGE01"u8);
        byte[] header = Encoding.UTF8.GetBytes(json);
        w.Write(header.Length);
        w.Write(header);
        if (tensorName is not null)
        {
            byte[] name = Encoding.UTF8.GetBytes(tensorName);
            w.Write(name.Length);
            w.Write(name);
            w.Write((byte)1); // float32
            w.Write(dims.Length);
            foreach (long d in dims)
                w.Write(d);
            w.Write(payload);
        }
        return body.ToArray();
    }

    private static byte[] Sealed(byte[] body) => [.. body, .. SHA256.HashData(body)];
}
