using CycleGanEdge.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.Training;

/// <summary>One step of every GAN mode and objective on tiny networks.</summary>
public class CycleGanModelTests
{
    private static TrainOptions Tiny => new() { NetG = "encoder_decoder", Ngf = 8, Ndf = 8, CropSize = 32, PoolSize = 2, Threads = 1 };

    private static (StepLosses Losses, bool GChanged, bool DChanged) OneStep(TrainOptions options)
    {
        torch.set_num_threads(1);
        torch.manual_seed(1);
        using var model = new CycleGanModel(options, CPU);
        using var scope = NewDisposeScope();
        var gBefore = model.GA.parameters().First().clone();
        var dBefore = model.DA.parameters().First().clone();
        var a = rand(2, options.InputNc, 32, 32) * 2 - 1;
        var b = rand(2, options.OutputNc, 32, 32) * 2 - 1;
        var losses = model.Step(a, b, new Random(1));
        return (losses, !(model.GA.parameters().First() == gBefore).all().item<bool>(), !(model.DA.parameters().First() == dBefore).all().item<bool>());
    }

    [Theory]
    [InlineData("lsgan")]
    [InlineData("vanilla")]
    [InlineData("wgangp")]
    public void Each_gan_mode_trains_all_four_networks(string ganMode)
    {
        var (losses, gChanged, dChanged) = OneStep(Tiny with { GanMode = ganMode });
        Assert.All(losses.Values, v => Assert.True(v is double d && double.IsFinite(d)));
        Assert.True(gChanged && dChanged);
    }

    [Theory]
    [InlineData("full", "D_A G_A cycle_A idt_A D_B G_B cycle_B idt_B")]
    [InlineData("gan-only", "D_A G_A D_B G_B")]
    [InlineData("cycle-only", "cycle_A cycle_B")]
    [InlineData("gan-forward-cycle", "D_A G_A cycle_A D_B G_B")]
    [InlineData("gan-backward-cycle", "D_A G_A D_B G_B cycle_B")]
    public void Each_objective_computes_exactly_its_terms(string objective, string terms)
    {
        var (losses, gChanged, dChanged) = OneStep(Tiny with { Objective = objective });
        var computed = losses.Names.Where((_, i) => losses.Values[i] is not null);
        Assert.Equal(terms, string.Join(' ', computed));
        Assert.True(gChanged);
        Assert.Equal(objective != "cycle-only", dChanged);
    }

    [Fact]
    public void Grey_to_colour_runs_without_identity_loss()
    {
        var (losses, _, _) = OneStep(Tiny with { InputNc = 1, OutputNc = 3, LambdaIdentity = 0 });
        Assert.Null(losses["idt_A"]);
        Assert.NotNull(losses["cycle_A"]);
    }

    [Fact]
    public void Skipped_generator_update_still_trains_the_discriminators()
    {
        torch.manual_seed(1);
        using var model = new CycleGanModel(Tiny with { DSteps = 2 }, CPU);
        using var scope = NewDisposeScope();
        var gBefore = model.GA.parameters().First().clone();
        var losses = model.Step(rand(1, 3, 32, 32), rand(1, 3, 32, 32), new Random(1), updateGenerators: false);
        Assert.Null(losses["G_A"]);
        Assert.NotNull(losses["D_A"]);
        Assert.True((model.GA.parameters().First() == gBefore).all().item<bool>());
    }

    [Fact]
    public void Gradient_penalty_is_zero_for_a_critic_with_unit_gradient_norm()
    {
        // D(x) = sum(x) / sqrt(numel per sample) has gradient norm exactly 1 everywhere.
        using var critic = new UnitCritic();
        using var scope = NewDisposeScope();
        var gp = GanLoss.GradientPenalty(critic, rand(2, 3, 4, 4), rand(2, 3, 4, 4), 10);
        Assert.Equal(0, gp.item<float>(), 4);
        using var doubled = new UnitCritic(2);
        Assert.Equal(10, GanLoss.GradientPenalty(doubled, rand(2, 3, 4, 4), rand(2, 3, 4, 4), 10).item<float>(), 3);
    }

    private sealed class UnitCritic(double scale = 1) : nn.Module<Tensor, Tensor>("UnitCritic")
    {
        public override Tensor forward(Tensor x) => x.flatten(1).sum(1) * (scale / Math.Sqrt(x[0].numel()));
    }
}
