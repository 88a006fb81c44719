using CycleGanEdge.Torch.Training;

namespace CycleGanEdge.Torch.Tests.Training;

/// <summary>The lr each epoch trains with, stepping once per epoch as the reference's train.py and get_scheduler do.</summary>
public class LearningRateScheduleTests
{
    private static double[] LrPerEpoch(TrainOptions options, Func<int, double>? metric = null)
    {
        var schedule = new LearningRateSchedule(options);
        var lrs = new double[options.LastEpoch - options.EpochCount + 1];
        for (int i = 0; i < lrs.Length; i++)
        {
            lrs[i] = schedule.CurrentLr;
            schedule.Step(metric?.Invoke(i) ?? 0);
        }
        return lrs;
    }

    [Fact]
    public void Linear_steps_at_the_start_of_every_epoch_as_the_reference_so_the_last_epoch_has_lr_zero()
    {
        // train.py calls update_learning_rate() before each epoch's iterations: epoch e trains with
        // LambdaLR after e steps, 1 - max(0, e + epoch_count - n_epochs) / (n_epochs_decay + 1).
        var lrs = LrPerEpoch(new TrainOptions { Lr = 0.0002, NEpochs = 100, NEpochsDecay = 100 });
        Assert.Equal(200, lrs.Length);
        Assert.All(lrs.Take(99), lr => Assert.Equal(0.0002, lr, 12));
        Assert.Equal(0.0002 * (1 - 1.0 / 101), lrs[99], 12);
        Assert.Equal(0.0002 * (1 - 51.0 / 101), lrs[149], 12);
        Assert.Equal(0.0002 * (1 - 100.0 / 101), lrs[198], 12);
        Assert.Equal(0, lrs[199], 12);
    }

    [Fact]
    public void Linear_with_a_later_epoch_count_starts_inside_the_decay()
    {
        // --epoch-count 151 (the reference's way to continue at epoch 151): one step, then 1 - (1 + 151 - 100) / 101.
        var lrs = LrPerEpoch(new TrainOptions { Lr = 1, NEpochs = 100, NEpochsDecay = 100, EpochCount = 151 });
        Assert.Equal(50, lrs.Length);
        Assert.Equal(1 - 52.0 / 101, lrs[0], 12);
        Assert.Equal(0, lrs[^1], 12);
    }

    [Fact]
    public void Step_divides_by_ten_every_lr_decay_iters_epochs()
    {
        // StepLR after e steps: 0.1 ^ floor(e / lr_decay_iters); epoch 50 is the 50th step.
        var lrs = LrPerEpoch(new TrainOptions { Lr = 1, NEpochs = 60, NEpochsDecay = 60, LrPolicy = "step", LrDecayIters = 50 });
        Assert.Equal(1, lrs[0], 12);
        Assert.Equal(1, lrs[48], 12);
        Assert.Equal(0.1, lrs[49], 12);
        Assert.Equal(0.01, lrs[99], 12);
    }

    [Fact]
    public void Cosine_anneals_to_zero_at_epoch_n_epochs()
    {
        var lrs = LrPerEpoch(new TrainOptions { Lr = 1, NEpochs = 10, NEpochsDecay = 0, LrPolicy = "cosine" });
        for (int e = 0; e < 10; e++)
            Assert.Equal((1 + Math.Cos(Math.PI * (e + 1) / 10)) / 2, lrs[e], 12);
        Assert.Equal(0.5, lrs[4], 12);
        Assert.Equal(0, lrs[9], 12);
    }

    [Fact]
    public void Plateau_cuts_lr_by_five_after_more_than_five_epochs_without_one_percent_improvement()
    {
        // Metric improves for 3 epochs, then stays flat: the 6th flat epoch (bad count 6 > patience 5) cuts.
        var lrs = LrPerEpoch(new TrainOptions { Lr = 1, NEpochs = 20, NEpochsDecay = 0, LrPolicy = "plateau" },
            i => i < 3 ? 1.0 - 0.1 * i : 0.8);
        Assert.All(lrs.Take(9), lr => Assert.Equal(1, lr, 12));
        Assert.Equal(0.2, lrs[9], 12);
        Assert.Equal(0.2, lrs[14], 12);
        Assert.Equal(0.04, lrs[15], 12);
    }

    [Fact]
    public void Saved_state_continues_the_same_sequence()
    {
        var options = new TrainOptions { Lr = 1, NEpochs = 3, NEpochsDecay = 10, LrPolicy = "plateau" };
        var straight = new LearningRateSchedule(options);
        var first = new LearningRateSchedule(options);
        for (int i = 0; i < 7; i++) { straight.Step(1); first.Step(1); }
        var resumed = new LearningRateSchedule(options);
        resumed.LoadState(first.SaveState());
        for (int i = 0; i < 6; i++) { straight.Step(1); resumed.Step(1); }
        Assert.Equal(straight.SaveState(), resumed.SaveState());
        Assert.Equal(0.04, resumed.CurrentLr, 12);
    }

    [Theory]
    [InlineData(1, 0, "linear", 1, new[] { 1 })]          // one epoch: it all trains at lr 0
    [InlineData(3, 6, "linear", 1, new[] { 9 })]          // the last epoch of a linear run
    [InlineData(3, 6, "linear", 9, new[] { 9 })]          // resumed in that epoch
    [InlineData(10, 0, "cosine", 1, new[] { 10 })]        // cosine reaches 0 at T_max = n_epochs too
    [InlineData(20, 0, "plateau", 1, new int[0])]
    [InlineData(60, 60, "step", 1, new int[0])]
    public void Epochs_at_lr_zero_are_named(int nEpochs, int decay, string policy, int from, int[] expected)
    {
        var options = new TrainOptions { Lr = 0.0002, NEpochs = nEpochs, NEpochsDecay = decay, LrPolicy = policy, LrDecayIters = 50 };
        Assert.Equal(expected, LearningRateSchedule.EpochsAtZeroLr(options, from));
        // The same epochs the schedule itself gives lr 0 when stepped through.
        var schedule = new LearningRateSchedule(options);
        var zero = new List<int>();
        for (int epoch = 1; epoch <= options.LastEpoch; epoch++)
        {
            if (epoch >= from && schedule.CurrentLr <= 0) zero.Add(epoch);
            schedule.Step(0);
        }
        Assert.Equal(expected, zero);
    }
}
