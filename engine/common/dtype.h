#pragma once
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace fairkv {

// Element types of checkpoint tensors (every dtype of the safetensors format). Only the floating
// types can be converted to the engine's fp32; the others are recognised so that a file holding
// them loads while they go unused, and a needed tensor of that type gets a precise error.
enum class DType {
    F64, F32, F16, BF16, F8_E4M3, F8_E5M2, F8_E8M0, F6_E2M3, F6_E3M2, F4, C64,
    I64, I32, I16, I8, U64, U32, U16, U8, Bool
};

std::optional<DType> dtypeFromName(const std::string& name);
const char* dtypeName(DType t);
int dtypeBits(DType t); // F4 and F6 pack elements below a byte: a tensor's bytes are its bits / 8
int dtypeSize(DType t); // bytes of one element, for the types of a byte or more
bool dtypeConvertible(DType t); // F32, F16, BF16, F64

inline float bf16ToFloat(uint16_t v)
{
    const uint32_t bits = uint32_t(v) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// Round to nearest even, NaN kept quiet.
inline uint16_t floatToBf16(float f)
{
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return uint16_t((bits >> 16) | 0x40);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return uint16_t(bits >> 16);
}

float f16ToFloat(uint16_t h);
uint16_t floatToF16(float f);

} // namespace fairkv
