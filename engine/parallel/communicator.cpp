#include "parallel/communicator.h"

namespace fairkv {

void InProcessCommunicator::allReduceSum(std::vector<std::vector<float>>& perRank)
{
    if (perRank.size() < 2)
        return;
    std::vector<float>& sum = perRank[0];
    for (size_t g = 1; g < perRank.size(); ++g)
        for (size_t i = 0; i < sum.size(); ++i)
            sum[i] += perRank[g][i];
    for (size_t g = 1; g < perRank.size(); ++g)
        perRank[g] = sum;
}

} // namespace fairkv
