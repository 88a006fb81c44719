using System.Runtime.InteropServices;

namespace CycleGanEdge.Torch.Training;

/// <summary>Process-wide libtorch settings for training and benchmarks on the CPU.</summary>
public static class TorchSetup
{
    private static int _done;

    /// <summary>
    /// Turns off two libtorch CPU backends, through at::globalContext() because TorchSharp has no switch:
    /// - oneDNN (mkldnn): on this machine (AMD EPYC, AVX-512) its convolution backward intermittently
    ///   returned NaN gradients from finite inputs, at random iterations of otherwise identical runs
    ///   (about 1 run in 2 over 60 tiny steps); with it off, 480 steps in 8 runs were all finite.
    /// - NNPACK: on CPUs it does not support, libtorch 2.10 probes it before every convolution and
    ///   prints "Could not initialize NNPACK! Reason: Unsupported hardware." each time.
    /// Convolutions then use libtorch's own CPU kernels, which measured about 2.5x slower than oneDNN
    /// (resnet_9blocks, 64 px, 2 cores): <paramref name="oneDnn"/> (--onednn) keeps oneDNN for speed, at the
    /// risk above (the NaN guard then stops the run at the last good checkpoint).
    /// Without the symbols (another libtorch), nothing changes. The first call decides.
    /// </summary>
    public static void ConfigureCpu(bool oneDnn)
    {
        if (Interlocked.Exchange(ref _done, 1) == 1) return;
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
