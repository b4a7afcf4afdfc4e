#include "model/safetensors.h"

#include "common/error.h"
#include "common/json_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fairkv {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what)
{
    throw Error(path + ": " + what);
}

uint64_t readLe64(const unsigned char* p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

bool mulOverflows(uint64_t a, uint64_t b, uint64_t* out)
{
    return __builtin_mul_overflow(a, b, out);
}

} // namespace

namespace {
// count 16-bit values at src (any alignment) to floats; `convert` is inlined per dtype.
template <typename Convert>
void widen(const unsigned char* src, size_t count, float* out, Convert convert)
{
    for (size_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + i * 2, 2);
        out[i] = convert(h);
    }
}

struct Descriptor
{
    int fd = -1;
    ~Descriptor()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

// Reads exactly n bytes at offset; false when the file ends first.
bool preadAll(int fd, void* dst, uint64_t n, uint64_t offset, const std::string& path)
{
    auto* out = static_cast<char*>(dst);
    while (n > 0) {
        const ssize_t got = ::pread(fd, out, size_t(std::min<uint64_t>(n, uint64_t(1) << 30)), off_t(offset));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            fail(path, std::string("read failed: ") + std::strerror(errno));
        if (got == 0)
            return false;
        out += got;
        offset += uint64_t(got);
        n -= uint64_t(got);
    }
    return true;
}
} // namespace

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path)
{
    std::unique_ptr<SafetensorsFile> file(new SafetensorsFile);
    file->m_path = path;
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer (forever, usually)
    // before the regular-file check below could refuse it; regular files ignore the flag.
    Descriptor d{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
    if (d.fd < 0)
        fail(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (fstat(d.fd, &st) != 0 || !S_ISREG(st.st_mode))
        fail(path, "not a regular file");
    const uint64_t size = uint64_t(st.st_size);
    if (size < 8)
        fail(path, "truncated: " + std::to_string(size) + " bytes, a safetensors file starts with an 8-byte header length");
    file->m_size = size;
    file->m_device = uint64_t(st.st_dev);
    file->m_inode = uint64_t(st.st_ino);
    unsigned char lengthBytes[8];
    if (!preadAll(d.fd, lengthBytes, 8, 0, path))
        fail(path, "became shorter while it was read (changed on disk?)");
    const uint64_t headerLength = readLe64(lengthBytes);
    // A clone without git-lfs leaves a small text file in place of the tensors.
    if (std::memcmp(lengthBytes, "version ", 8) == 0 && size < 1024)
        fail(path, "is a Git LFS pointer (" + std::to_string(size) + " bytes of text), not the tensors: the weights were "
                   "never downloaded (run `git lfs pull` in the checkpoint's repository)");
    // An HTML error page or any other text saved under the name: its first bytes read as a huge length.
    const bool text = std::all_of(lengthBytes, lengthBytes + 8, [](unsigned char ch) { return (ch >= 0x20 && ch < 0x7f) || ch == '\n' || ch == '\r' || ch == '\t'; });
    if (headerLength > kMaxHeaderBytes && text)
        fail(path, "is not a safetensors file: it starts with text (\"" + printable(std::string(lengthBytes, lengthBytes + 8))
                       + "\") where the 8-byte header length belongs");
    if (headerLength > kMaxHeaderBytes)
        fail(path, "header length " + std::to_string(headerLength) + " exceeds the 100 MiB limit");
    if (headerLength == 0)
        fail(path, "header length is 0: a safetensors file has a JSON header after its first 8 bytes");
    if (headerLength > size - 8)
        fail(path, "header length " + std::to_string(headerLength) + " runs past the end of the file ("
                       + std::to_string(size) + " bytes)");
    std::string header(size_t(headerLength), '\0');
    if (!preadAll(d.fd, header.data(), headerLength, 8, path))
        fail(path, "became shorter while it was read (changed on disk?)");
    file->m_dataOffset = 8 + headerLength;
    file->parseHeader(header.data(), headerLength, size - 8 - headerLength);
    return file;
}

SafetensorsFile::~SafetensorsFile() = default;

int SafetensorsFile::reopen() const
{
    Descriptor d{::open(m_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
    if (d.fd < 0)
        fail(m_path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (fstat(d.fd, &st) != 0 || uint64_t(st.st_dev) != m_device || uint64_t(st.st_ino) != m_inode
        || uint64_t(st.st_size) != m_size)
        fail(m_path, "changed on disk since its header was read (replaced, cut short or grown); load the model again");
    return std::exchange(d.fd, -1);
}

void SafetensorsFile::parseHeader(const char* header, uint64_t length, uint64_t dataBytes)
{
    // The format pads the header with spaces; NUL padding is seen in the wild and harmless. Any
    // NUL before that padding is not: the JSON parser would stop there and ignore what follows.
    uint64_t end = length;
    while (end > 0 && (header[end - 1] == '\0' || std::strchr(" \t\r\n", header[end - 1])))
        --end;
    if (const void* nul = std::memchr(header, '\0', end))
        fail(m_path, "header holds a NUL byte before its end, at byte "
                         + std::to_string(8 + (static_cast<const char*>(nul) - header)));
    // The format forbids a tensor named twice; the JSON parser would keep the last entry silently.
    // A header is an object of objects of arrays: anything deeper is not one (and is not parsed).
    const JsonScan scan = scanJson(std::string_view(header, end), 3);
    if (scan.tooDeep)
        fail(m_path, "header nests deeper than 3 levels, as a safetensors header does not");
    if (!scan.valid) {
        try { // the parser's message says where
            [[maybe_unused]] const json parsed = json::parse(header, header + end);
        } catch (const json::exception& e) {
            fail(m_path, "header is not valid JSON (" + printable(e.what()) + ")");
        }
        fail(m_path, "header is not valid JSON");
    }
    if (scan.repeatedKey == "__metadata__")
        fail(m_path, "header has '__metadata__' twice");
    if (!scan.repeatedKey.empty())
        fail(m_path, "header names tensor '" + printable(scan.repeatedKey) + "' twice");
    // {"dtype": "F16", "dtype": "BF16"}: the parser would keep the last. In __metadata__, a map of
    // free text, the last one wins, as the safetensors library reads it.
    for (const std::string& repeated : scan.repeatedInner)
        if (repeated.rfind("__metadata__.", 0) != 0)
            fail(m_path, "header says '" + printable(repeated) + "' twice for one tensor");
    const json j = json::parse(header, header + end);
    if (!j.is_object())
        fail(m_path, "header must be a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& name = it.key();
        const json& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object())
                fail(m_path, "__metadata__ must be an object of strings");
            for (auto m = v.begin(); m != v.end(); ++m) {
                if (!m.value().is_string())
                    fail(m_path, "__metadata__ value of '" + printable(m.key()) + "' is not a string");
                m_metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string where = "tensor '" + printable(name) + "': ";
        if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
            fail(m_path, where + "needs dtype, shape and data_offsets");
        if (!v.at("dtype").is_string())
            fail(m_path, where + "dtype must be a string");
        const auto dtype = dtypeFromName(v.at("dtype").get<std::string>());
        if (!dtype)
            fail(m_path, where + "unknown dtype '" + printable(v.at("dtype").get<std::string>()) + "'");
        SafetensorsEntry e;
        e.name = name;
        e.dtype = *dtype;
        const json& shape = v.at("shape");
        if (!shape.is_array())
            fail(m_path, where + "shape must be an array");
        uint64_t count = 1;
        for (const json& d : shape) {
            if (!d.is_number_unsigned())
                fail(m_path, where + "shape entries must be non-negative integers");
            const uint64_t dim = d.get<uint64_t>();
            if (dim > (uint64_t(1) << 48) || mulOverflows(count, dim, &count))
                fail(m_path, where + "shape is too large (a dimension beyond 2^48, or more than 2^64 elements)");
            e.shape.push_back(int64_t(dim));
        }
        const json& offsets = v.at("data_offsets");
        if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned()
            || !offsets[1].is_number_unsigned())
            fail(m_path, where + "data_offsets must be two non-negative integers");
        e.begin = offsets[0].get<uint64_t>();
        e.end = offsets[1].get<uint64_t>();
        if (e.end < e.begin)
            fail(m_path, where + "data_offsets end before they begin");
        uint64_t bits = 0;
        if (mulOverflows(count, uint64_t(dtypeBits(e.dtype)), &bits))
            fail(m_path, where + dtypeName(e.dtype) + " x " + shapeToString(e.shape) + " needs more than 2^64 bits");
        if (bits % 8 != 0)
            fail(m_path, where + dtypeName(e.dtype) + " x " + shapeToString(e.shape) + " is not a whole number of bytes");
        const uint64_t bytes = bits / 8;
        if (bytes != e.end - e.begin)
            fail(m_path, where + dtypeName(e.dtype) + " x " + shapeToString(e.shape) + " needs " + std::to_string(bytes)
                             + " bytes but data_offsets span " + std::to_string(e.end - e.begin));
        if (e.end > dataBytes)
            fail(m_path, where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end)
                             + ") run past the end of the file (data section has " + std::to_string(dataBytes)
                             + " bytes)");
        m_entries.emplace(name, std::move(e));
    }
    // The spec requires the data section to be covered exactly: no overlap, no holes.
    std::vector<const SafetensorsEntry*> sorted;
    for (const auto& [n, e] : m_entries)
        sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t expected = 0;
    for (const SafetensorsEntry* e : sorted) {
        if (e->begin < expected)
            fail(m_path, "tensor '" + e->name + "' overlaps the tensor before it (offset " + std::to_string(e->begin)
                             + " < " + std::to_string(expected) + ")");
        if (e->begin > expected)
            fail(m_path, "hole in the data section before tensor '" + e->name + "' (bytes "
                             + std::to_string(expected) + " to " + std::to_string(e->begin) + ")");
        expected = e->end;
    }
    if (expected != dataBytes)
        fail(m_path, "data section has " + std::to_string(dataBytes) + " bytes but the tensors cover "
                         + std::to_string(expected));
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const
{
    auto it = m_entries.find(name);
    return it == m_entries.end() ? nullptr : &it->second;
}

Tensor SafetensorsFile::toFloat(const SafetensorsEntry& e) const
{
    if (!dtypeConvertible(e.dtype))
        fail(m_path, "tensor '" + e.name + "' has dtype " + dtypeName(e.dtype) + ", expected F32, F16, BF16 or F64");
    Tensor t;
    t.shape = e.shape;
    const size_t n = size_t(Tensor::numel(e.shape));
    t.data.resize(n);
    const uint64_t at = m_dataOffset + e.begin;
    const Descriptor d{reopen()}; // one open per tensor, its chunks read through it
    const auto readAt = [&](uint64_t offset, void* dst, uint64_t bytes) {
        if (!preadAll(d.fd, dst, bytes, offset, m_path))
            fail(m_path, "became shorter while it was read (changed on disk?); load the model again");
    };
    if (e.dtype == DType::F32) {
        readAt(at, t.data.data(), uint64_t(n) * 4);
        return t;
    }
    // Other dtypes through a buffer of whole elements, converted as they arrive.
    const size_t width = dtypeSize(e.dtype), perChunk = (size_t(8) << 20) / width;
    std::vector<unsigned char> buf(std::min(n, perChunk) * width);
    for (size_t first = 0; first < n; first += perChunk) {
        const size_t count = std::min(perChunk, n - first);
        readAt(at + uint64_t(first) * width, buf.data(), uint64_t(count) * width);
        float* out = t.data.data() + first;
        const unsigned char* src = buf.data();
        switch (e.dtype) {
        case DType::F64:
            for (size_t i = 0; i < count; ++i) {
                double v;
                std::memcpy(&v, src + i * 8, 8);
                out[i] = float(v);
            }
            break;
        case DType::BF16:
            widen(src, count, out, [](uint16_t h) { return bf16ToFloat(h); });
            break;
        case DType::F16:
            widen(src, count, out, [](uint16_t h) { return f16ToFloat(h); });
            break;
        default:
            break;
        }
    }
    return t;
}

void SafetensorsCheckpoint::indexFile(size_t file)
{
    for (const auto& [name, e] : m_files[file]->entries()) {
        const auto [at, added] = m_index.emplace(name, Location{file, name});
        // transformers loads every shard into one state dict, where the last one read wins: two
        // files holding one tensor leave which copy is meant to the order of reading.
        if (!added && at->second.file != file)
            throw Error(m_fileNames[file] + ": tensor '" + printable(name) + "' is also stored in " + m_fileNames[at->second.file]
                        + " (which copy is meant?)");
    }
}

void SafetensorsCheckpoint::rename(const std::function<std::string(const std::string&)>& to)
{
    std::map<std::string, Location> renamed;
    for (auto& [name, where] : m_index)
        renamed.emplace(to(name), std::move(where));
    m_index = std::move(renamed);
}

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& path)
{
    SafetensorsCheckpoint ckpt;
    std::error_code ec;
    auto addFile = [&](const fs::path& p) {
        ckpt.m_files.push_back(std::shared_ptr<SafetensorsFile>(SafetensorsFile::open(p.string())));
        ckpt.m_fileNames.push_back(p.string());
        return ckpt.m_files.size() - 1;
    };
    if (fs::is_regular_file(path, ec)) {
        ckpt.indexFile(addFile(path));
        return ckpt;
    }
    if (!fs::is_directory(path, ec))
        throw Error(path + ": no such checkpoint file or folder");
    const fs::path dir(path);
    const fs::path indexPath = dir / "model.safetensors.index.json";
    const fs::path single = dir / "model.safetensors";
    // transformers reads model.safetensors where the folder has it, and the index only otherwise.
    if (fs::exists(single, ec)) {
        ckpt.indexFile(addFile(single));
        return ckpt;
    }
    if (fs::exists(indexPath, ec)) {
        const json j = readJsonFile(indexPath.string(), "safetensors index", uint64_t(64) << 20, JsonDialect::Python);
        if (!j.is_object() || !j.contains("weight_map"))
            throw Error(indexPath.string() + ": missing object 'weight_map'");
        if (!j.at("weight_map").is_object())
            throw Error(indexPath.string() + ": 'weight_map' must be an object of tensor name to shard file, got "
                        + jsonBrief(j.at("weight_map")));
        if (j.at("weight_map").empty())
            throw Error(indexPath.string() + ": 'weight_map' lists no tensors");
        std::map<std::string, size_t> opened;
        for (auto it = j.at("weight_map").begin(); it != j.at("weight_map").end(); ++it) {
            if (!it.value().is_string())
                throw Error(indexPath.string() + ": weight_map entry for '" + printable(it.key()) + "' is not a file name");
            const std::string shard = it.value().get<std::string>();
            // A path inside the folder ('model-00001-of-00002.safetensors', 'shards/part-1.safetensors',
            // 'shards/../a.safetensors'): nothing absolute, and no '..' left once normalised.
            const fs::path relative = fs::path(shard).lexically_normal();
            const bool inside = !shard.empty() && relative.is_relative() && !relative.empty() && relative != "."
                && std::none_of(relative.begin(), relative.end(), [](const fs::path& part) { return part == ".."; });
            if (!inside)
                throw Error(indexPath.string() + ": shard name '" + printable(shard) + "' must be a file inside the checkpoint folder");
            // './a.safetensors' and 'a.safetensors' are one file, opened once.
            const std::string key = relative.generic_string();
            auto found = opened.find(key);
            if (found == opened.end()) {
                if (!fs::exists(dir / relative, ec))
                    throw Error(indexPath.string() + ": shard '" + printable(shard) + "' listed for tensor '" + printable(it.key())
                                + "' does not exist");
                found = opened.emplace(key, addFile(dir / relative)).first;
            }
            if (!ckpt.m_files[found->second]->find(it.key()))
                throw Error(indexPath.string() + ": tensor '" + printable(it.key()) + "' is listed in shard '" + printable(shard)
                            + "' but that file does not hold it");
            ckpt.m_index[it.key()] = Location{found->second, it.key()};
        }
        // transformers loads every tensor of the listed shards, also those the weight_map leaves out.
        for (size_t f = 0; f < ckpt.m_files.size(); ++f)
            ckpt.indexFile(f);
        return ckpt;
    }
    if (fs::is_symlink(fs::symlink_status(single, ec))) // a download cut short leaves these
        throw Error(single.string() + ": is a link to " + fs::read_symlink(single, ec).string()
                    + ", which does not exist (or the links loop)");
    // What the folder holds instead, so the message says what kind of checkpoint it is.
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        const auto endsWith = [&](const std::string& suffix) {
            return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
        };
        if ((endsWith(".safetensors") || endsWith(".bin") || endsWith(".pt") || endsWith(".pth") || endsWith(".gguf"))
            && found.size() < 4)
            found.push_back(name);
    }
    std::string what;
    for (const auto& name : found)
        what += (what.empty() ? " (it holds " : ", ") + name;
    if (!what.empty())
        what += ": FairKV reads model.safetensors, or the shards that model.safetensors.index.json lists; PyTorch "
                ".bin/.pt and GGUF files need converting to safetensors first)";
    throw Error(path + ": folder holds neither model.safetensors nor model.safetensors.index.json" + what);
}

const SafetensorsEntry* SafetensorsCheckpoint::find(const std::string& name, const SafetensorsFile** file) const
{
    auto it = m_index.find(name);
    if (it == m_index.end())
        return nullptr;
    if (file)
        *file = m_files[it->second.file].get();
    return m_files[it->second.file]->find(it->second.stored);
}

std::string SafetensorsCheckpoint::storedName(const std::string& name) const
{
    const auto it = m_index.find(name);
    return it == m_index.end() ? std::string() : it->second.stored;
}

std::vector<std::string> SafetensorsCheckpoint::tensorNames() const
{
    std::vector<std::string> names;
    for (const auto& [n, idx] : m_index)
        names.push_back(n);
    return names;
}

Tensor SafetensorsCheckpoint::load(const std::string& name, const std::vector<int64_t>& expectedShape) const
{
    const SafetensorsFile* file = nullptr;
    const SafetensorsEntry* e = find(name, &file);
    if (!e)
        throw Error("checkpoint is missing tensor '" + printable(name) + "' (expected shape " + shapeToString(expectedShape) + ")");
    if (e->shape != expectedShape)
        throw Error(file->path() + ": tensor '" + printable(name) + "' has shape " + shapeToString(e->shape) + ", expected "
                    + shapeToString(expectedShape));
    return file->toFloat(*e);
}

void writeSafetensors(const std::string& path, const std::vector<SafetensorsWriteItem>& items,
                      const std::map<std::string, std::string>& metadata)
{
    json header = json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto& item : items) {
        if (item.dtype != DType::F32 && item.dtype != DType::F16 && item.dtype != DType::BF16)
            throw Error(path + ": cannot write tensor '" + item.name + "' as " + dtypeName(item.dtype));
        const uint64_t bytes = uint64_t(Tensor::numel(item.shape)) * dtypeSize(item.dtype);
        header[item.name] = {{"dtype", dtypeName(item.dtype)}, {"shape", item.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    while ((8 + text.size()) % 8 != 0)
        text.push_back(' ');
    const std::string tmp = path + ".partial";
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
        throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
    // A write that fails (a full disk) stops at once and leaves neither the temporary file nor a
    // changed `path`.
    const auto check = [&] {
        if (out)
            return;
        const int err = errno;
        out.close();
        std::error_code ignored;
        fs::remove(tmp, ignored);
        throw Error(path + ": write failed (" + std::strerror(err) + "); nothing was written");
    };
    unsigned char len[8];
    for (int i = 0; i < 8; ++i)
        len[i] = (uint64_t(text.size()) >> (8 * i)) & 0xff;
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), std::streamsize(text.size()));
    check();
    std::vector<uint16_t> half;
    for (const auto& item : items) {
        const size_t n = size_t(Tensor::numel(item.shape));
        if (item.dtype == DType::F32) {
            out.write(reinterpret_cast<const char*>(item.data), std::streamsize(n * 4));
            check();
            continue;
        }
        half.resize(n);
        for (size_t i = 0; i < n; ++i)
            half[i] = item.dtype == DType::BF16 ? floatToBf16(item.data[i]) : floatToF16(item.data[i]);
        out.write(reinterpret_cast<const char*>(half.data()), std::streamsize(n * 2));
        check();
    }
    out.close();
    check();
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec)
        throw Error(path + ": cannot rename " + tmp + ": " + ec.message());
}

} // namespace fairkv
