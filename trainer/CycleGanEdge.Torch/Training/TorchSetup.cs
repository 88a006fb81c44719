using System.Runtime.InteropServices;

namespace CycleGanEdge.Torch.Training;

/// <summary>Process-wide libtorch settings for training and benchmarks on the CPU.</summary>
public static class TorchSetup
{
    private static int _done;

    /// <summary>Whether oneDNN convolutions are on for this process (libtorch's default until configured).</summary>
    public static bool OneDnnEnabled { get; private set; } = true;

    /// <summary>
    /// Chooses libtorch's CPU convolution backends, through at::globalContext() because TorchSharp has no switch:
    /// - oneDNN (mkldnn) stays on unless <paramref name="oneDnn"/> is false (--onednn false). On this machine
    ///   (AMD EPYC, AVX-512) libtorch 2.10's oneDNN 3.7.1 computes wrong input gradients for convolutions with
    ///   fewer than 16 output channels, and NaN when the memory it reads without writing held NaN bits; 16 and
    ///   more are right. Training therefore pads those layers to 16 (NarrowConvolutionPadding, applied by
    ///   CycleGanModel when <see cref="OneDnnEnabled"/>). Without oneDNN the step is ~2.5-3x slower.
    ///   Evidence: benchmarks/TRAINING.md; CpuConvolutionGradientTests.
    /// - NNPACK is off: on CPUs it does not support, libtorch 2.10 probes it before every convolution and
    ///   prints "Could not initialize NNPACK! Reason: Unsupported hardware." each time.
    /// Without the symbols (another libtorch), nothing changes. The first call decides for the process.
    /// </summary>
    public static void ConfigureCpu(bool oneDnn)
    {
        if (Interlocked.Exchange(ref _done, 1) == 1) return;
        OneDnnEnabled = oneDnn;
        try
        {
            _ = TorchSharp.torch.get_num_threads(); // makes sure TorchSharp has loaded libtorch
            IntPtr context = GlobalContext();
            SetUserEnabledMkldnn(context, oneDnn);
            SetUserEnabledNnpack(context, false);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    // DllImport rather than LibraryImport: this project does not allow unsafe code. The member functions
    // take the Context pointer as their first argument (Itanium C++ ABI).
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static extern void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);
}
