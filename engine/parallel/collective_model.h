#pragma once
#include <string>

namespace fairkv {

// The all-reduce of emulated ranks is modelled, not run: t = alpha + 2 (N - 1) / N * bytes / busBandwidth
// (a ring all-reduce moves 2 (N - 1) / N of the buffer over each link; NCCL reports that rate as
// "busbw"). Defaults describe one NVSwitch node of H100/H200 SXM GPUs with NVLink SHARP off
// (NCCL_NVLS_ENABLE=0): 370 GB/s is NCCL's effective NVLink bus bandwidth there (450 GB/s line
// rate less about 20 % protocol overhead, NVIDIA/nccl-tests#212); 10 us is the latency of a small
// intra-node all-reduce (the LL protocol), an estimate until a multi-GPU run measures it.
struct AllReduceModel
{
    double alphaUs = 10.0;
    double busGBs = 370.0;

    double ms(double bytes, int ranks) const;
    std::string describe() const; // for results: the formula with its constants
};

} // namespace fairkv
