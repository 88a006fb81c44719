using CycleGanEdge.Torch.Training;

namespace CycleGanEdge.Torch.Tests.Training;

public class TrainOptionsTests
{
    [Fact]
    public void Defaults_are_the_reference_cyclegan_defaults()
    {
        var o = new TrainOptions();
        Assert.Equal(("resnet_9blocks", "basic", 3, 64, 64, "instance", true), (o.NetG, o.NetD, o.NLayersD, o.Ngf, o.Ndf, o.Norm, o.NoDropout));
        Assert.Equal(("normal", 0.02, 286, 256, 1, "lsgan"), (o.InitType, o.InitGain, o.LoadSize, o.CropSize, o.BatchSize, o.GanMode));
        Assert.Equal((10.0, 10.0, 0.5, 50, 0.0002, 0.5), (o.LambdaA, o.LambdaB, o.LambdaIdentity, o.PoolSize, o.Lr, o.Beta1));
        Assert.Equal((100, 100, 1, "linear", 50, 5, 5000, 100), (o.NEpochs, o.NEpochsDecay, o.EpochCount, o.LrPolicy, o.LrDecayIters, o.SaveEpochFreq, o.SaveLatestFreq, o.PrintFreq));
        Assert.Equal(("./checkpoints", "latest", "resize_and_crop"), (o.CheckpointsDir, o.Epoch, o.Preprocess));
    }

    [Fact]
    public void Json_round_trip_gives_the_same_options()
    {
        var o = new TrainOptions
        {
            DataRoot = "/data/horse2zebra", Name = "h2z", NetG = "unet_256", GanMode = "wgangp", Objective = "gan-forward-cycle",
            LambdaA = 7.5, Lr = 1e-4, NoFlip = true, DomainA = "horse", Seed = 42, MaxDatasetSize = 1000, Threads = 2,
        };
        string json = o.ToJson();
        Assert.Contains("\"lambda_a\": 7.5", json);
        Assert.Equal(o, TrainOptions.FromJson(json));
    }

    [Fact]
    public void Text_form_lists_every_option_and_marks_changed_defaults()
    {
        var text = new TrainOptions { Ngf = 32 }.ToText();
        Assert.Contains("ngf: 32", text);
        Assert.Contains("[default: 64]", text);
        Assert.Contains("gan_mode: lsgan", text);
        Assert.Equal(typeof(TrainOptions).GetProperties().Count(p => p.CanWrite), text.Split('\n').Count(l => l.Contains(": ")));
    }

    [Theory]
    [InlineData("GanMode", "--gan-mode")]
    [InlineData("Objective", "--objective")]
    [InlineData("LrPolicy", "--lr-policy")]
    public void Unknown_names_are_rejected_with_the_choices(string property, string option)
    {
        var o = new TrainOptions();
        typeof(TrainOptions).GetProperty(property)!.SetValue(o, "nonsense");
        var error = Assert.Single(o.Validate());
        Assert.StartsWith($"{option} 'nonsense' is not one of:", error);
    }

    [Fact]
    public void Identity_loss_needs_equal_channel_counts()
    {
        Assert.Contains(new TrainOptions { InputNc = 1, OutputNc = 3 }.Validate(), e => e.Contains("--lambda-identity"));
        Assert.Empty(new TrainOptions { InputNc = 1, OutputNc = 3, LambdaIdentity = 0 }.Validate());
    }
}
