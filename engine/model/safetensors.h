#pragma once
#include "common/dtype.h"
#include "common/tensor.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fairkv {

struct SafetensorsEntry
{
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0; // byte offsets relative to the data section
    uint64_t end = 0;
};

// One .safetensors file. Opening validates the whole header against the spec: header length
// bound, JSON object, known dtype, dtype x shape = byte range, ranges inside the file, not
// overlapping and leaving no holes. Errors name the file and the tensor. Tensors are read with
// pread(), not mapped: a file cut short or replaced while a model loads (a copy over it) is an
// error naming it, where a mapping would kill the process with SIGBUS. No descriptor is held
// between reads, so a checkpoint of many shards needs one at a time.
class SafetensorsFile
{
public:
    static constexpr uint64_t kMaxHeaderBytes = 100u * 1024u * 1024u;

    static std::unique_ptr<SafetensorsFile> open(const std::string& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return m_path; }
    const std::map<std::string, SafetensorsEntry>& entries() const { return m_entries; }
    const std::map<std::string, std::string>& metadata() const { return m_metadata; }
    const SafetensorsEntry* find(const std::string& name) const;

    // The tensor converted to fp32 (F32, F16, BF16, F64).
    Tensor toFloat(const SafetensorsEntry& entry) const;

private:
    SafetensorsFile() = default;
    void parseHeader(const char* header, uint64_t length, uint64_t dataBytes);

    // The file opened again (a descriptor the caller closes), checked to be still the one whose
    // header was read.
    int reopen() const;

    std::string m_path;
    uint64_t m_size = 0, m_dataOffset = 0; // the file's size and where its data section starts
    uint64_t m_device = 0, m_inode = 0;    // which file it was
    std::map<std::string, SafetensorsEntry> m_entries;
    std::map<std::string, std::string> m_metadata;
};

// A checkpoint: a folder with model.safetensors, or with model.safetensors.index.json and its
// shards, or a single .safetensors file.
class SafetensorsCheckpoint
{
public:
    static SafetensorsCheckpoint open(const std::string& path);

    const SafetensorsEntry* find(const std::string& name, const SafetensorsFile** file = nullptr) const;
    std::vector<std::string> tensorNames() const;
    // The name a tensor has in its file, where a rename() gave it another here ("" if absent).
    std::string storedName(const std::string& name) const;
    // Loads `name` as fp32 and checks its shape; throws naming the tensor when missing or mismatched.
    Tensor load(const std::string& name, const std::vector<int64_t>& expectedShape) const;
    const std::vector<std::string>& files() const { return m_fileNames; }
    // Every tensor found under to(its name) from now on (a base model's 'layers.0...' read as
    // 'model.layers.0...', as transformers does).
    void rename(const std::function<std::string(const std::string&)>& to);

private:
    struct Location
    {
        size_t file;
        std::string stored; // the name in that file
    };
    void indexFile(size_t file); // every tensor of the file not yet indexed, under its stored name
    std::vector<std::shared_ptr<SafetensorsFile>> m_files;
    std::vector<std::string> m_fileNames;
    std::map<std::string, Location> m_index; // tensor -> where it is stored
};

struct SafetensorsWriteItem
{
    std::string name;
    DType dtype = DType::F32; // F32, F16 or BF16
    std::vector<int64_t> shape;
    const float* data = nullptr;
};

// Writes a spec-conforming file (header padded to 8 bytes, tensors in the given order).
void writeSafetensors(const std::string& path, const std::vector<SafetensorsWriteItem>& items,
                      const std::map<std::string, std::string>& metadata = {});

} // namespace fairkv
