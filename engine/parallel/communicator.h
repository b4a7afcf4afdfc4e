#pragma once
#include <cstddef>
#include <vector>

namespace fairkv {

// Collectives between ranks. The in-process communicator serves the CPU backend and emulated
// ranks; an NCCL communicator takes its place when every rank has its own GPU.
class Communicator
{
public:
    virtual ~Communicator() = default;
    // Sums the ranks' buffers element-wise; afterwards every buffer holds the sum.
    virtual void allReduceSum(std::vector<std::vector<float>>& perRank) = 0;
};

class InProcessCommunicator final : public Communicator
{
public:
    // Sums in rank order, so the result is reproducible.
    void allReduceSum(std::vector<std::vector<float>>& perRank) override;
};

} // namespace fairkv
