using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Networks;
using CycleGanEdge.Torch.Training;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.Training;

/// <summary>Each model says what its networks' checkpoint files hold and what its run is called (tiny networks, ngf 8).</summary>
public class ModelCheckpointHeaderTests
{
    private static readonly CheckpointHeader Run = new() { Epoch = 7, TrainSize = 32, Extra = new Dictionary<string, string> { ["run"] = "tiny" } };

    private static ITranslationModel Create(string model) =>
        TranslationModels.Create(TrainOptions.Defaults(model) with { Name = "tiny", NetG = "resnet_6blocks", Ngf = 8, Ndf = 8, CropSize = 32, Threads = 1 }, CPU);

    /// <summary>(name, kind, direction, domain in, domain out) of every header, in order.</summary>
    private static string Describe(IEnumerable<(string Name, CheckpointHeader Header)> headers) =>
        string.Join("; ", headers.Select(h => $"{h.Name} {h.Header.Kind} {h.Header.Direction ?? "-"} {h.Header.DomainIn ?? "-"} {h.Header.DomainOut ?? "-"}"));

    [Theory]
    [InlineData(TranslationModels.CycleGan,
        "G_A generator AtoB horse zebra; G_B generator BtoA zebra horse; D_A discriminator - zebra -; D_B discriminator - horse -")]
    [InlineData(TranslationModels.Cut, "G generator AtoB horse zebra; D discriminator - zebra -; F patch-head - - -")]
    [InlineData(TranslationModels.FastCut, "G generator AtoB horse zebra; D discriminator - zebra -; F patch-head - - -")]
    public void Every_network_has_one_header_saying_what_it_is_on_top_of_the_runs_facts(string model, string expected)
    {
        using var translation = Create(model);
        var headers = translation.CheckpointHeaders(Run, "horse", "zebra");

        Assert.Equal(translation.Networks.Select(n => n.Name), headers.Select(h => h.Name));
        Assert.Equal(expected, Describe(headers));
        Assert.All(headers, h => Assert.Equal((7, 32, "tiny"), (h.Header.Epoch, h.Header.TrainSize, h.Header.Extra["run"])));
        // A generator header rebuilds its network; a discriminator header its discriminator.
        foreach (var (name, header) in headers)
        {
            var module = translation.Networks.Single(n => n.Name == name).Module;
            if (header.Kind == CheckpointKinds.Generator)
            {
                using var rebuilt = NetworkFactory.CreateGenerator(header.Generator!);
                Assert.Equal(module.state_dict().Keys.Order(), rebuilt.state_dict().Keys.Order());
            }
            else
                Assert.Null(header.Generator);
            Assert.Equal(header.Kind == CheckpointKinds.Discriminator, header.Discriminator is not null);
        }
    }

    [Theory]
    [InlineData(TranslationModels.CycleGan, "tiny: CycleGAN resnet_6blocks/basic, lsgan, full")]
    [InlineData(TranslationModels.Cut, "tiny: CUT resnet_6blocks/basic, lsgan, lambda_NCE 1")]
    [InlineData(TranslationModels.FastCut, "tiny: FastCUT resnet_6blocks/basic, lsgan, lambda_NCE 10")]
    public void The_title_names_the_run_the_method_and_its_telling_options(string model, string title)
    {
        using var translation = Create(model);
        Assert.Equal(title, translation.Title);
    }
}
