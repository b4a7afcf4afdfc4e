#include "common/dtype.h"

#include <cmath>

namespace fairkv {

namespace {
struct DTypeInfo
{
    DType type;
    const char* name;
    int bits;
};
constexpr DTypeInfo kTypes[] = {
    {DType::F64, "F64", 64},         {DType::F32, "F32", 32},         {DType::F16, "F16", 16},
    {DType::BF16, "BF16", 16},       {DType::F8_E4M3, "F8_E4M3", 8},  {DType::F8_E5M2, "F8_E5M2", 8},
    {DType::F8_E8M0, "F8_E8M0", 8},  {DType::F6_E2M3, "F6_E2M3", 6},  {DType::F6_E3M2, "F6_E3M2", 6},
    {DType::F4, "F4", 4},            {DType::C64, "C64", 64},         {DType::I64, "I64", 64},
    {DType::I32, "I32", 32},         {DType::I16, "I16", 16},         {DType::I8, "I8", 8},
    {DType::U64, "U64", 64},         {DType::U32, "U32", 32},         {DType::U16, "U16", 16},
    {DType::U8, "U8", 8},            {DType::Bool, "BOOL", 8},
};
} // namespace

std::optional<DType> dtypeFromName(const std::string& name)
{
    for (const auto& t : kTypes)
        if (name == t.name)
            return t.type;
    return std::nullopt;
}

const char* dtypeName(DType type)
{
    for (const auto& t : kTypes)
        if (t.type == type)
            return t.name;
    return "?";
}

int dtypeBits(DType type)
{
    for (const auto& t : kTypes)
        if (t.type == type)
            return t.bits;
    return 0;
}

int dtypeSize(DType type)
{
    return dtypeBits(type) / 8;
}

bool dtypeConvertible(DType t)
{
    return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

float f16ToFloat(uint16_t h)
{
    const int sign = (h >> 15) & 1;
    const int exponent = (h >> 10) & 0x1f;
    const int mantissa = h & 0x3ff;
    float value;
    if (exponent == 0)
        value = std::ldexp(float(mantissa), -24);
    else if (exponent == 31)
        value = mantissa ? NAN : INFINITY;
    else
        value = std::ldexp(float(mantissa | 0x400), exponent - 25);
    return sign ? -value : value;
}

uint16_t floatToF16(float f)
{
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint16_t sign = uint16_t((x >> 16) & 0x8000);
    const uint32_t absBits = x & 0x7fffffffu;
    if (absBits > 0x7f800000u)
        return sign | 0x7e00;
    if (absBits >= 0x477ff000u) // rounds to >= 65520: infinity
        return sign | 0x7c00;
    float a;
    std::memcpy(&a, &absBits, 4);
    if (a < 6.103515625e-05f) { // subnormal half: multiples of 2^-24, round to nearest even
        const float scaled = a * 16777216.0f;
        return sign | uint16_t(std::nearbyint(scaled));
    }
    const uint32_t mant = absBits & 0x7fffff;
    const int exp = int(absBits >> 23) - 127 + 15;
    uint32_t h = (uint32_t(exp) << 10) | (mant >> 13);
    const uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        ++h;
    return sign | uint16_t(h);
}

} // namespace fairkv
