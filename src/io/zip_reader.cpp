// Zip central-directory reader (ZIP64 included) for PyTorch checkpoints.
// Only locates entries; the checkpoint loader memory-maps stored entries in
// place. Every offset and size read from the archive is checked against the
// image size before it is used.
#include <string>

#include "common/error.h"
#include "io/tensor_store.h"

namespace talkie::io {

namespace {

constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr size_t kEocdSize = 22;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kZip64EocdSize = 56;
constexpr size_t kCentralSize = 46;
constexpr size_t kLocalSize = 30;
constexpr size_t kMaxComment = 65535;

// Little-endian field reads; callers have bounds-checked [p, p + N).
uint64_t Le(const std::byte* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// [offset, offset + len) lies inside an image of `size` bytes.
bool InRange(uint64_t offset, uint64_t len, uint64_t size) {
  return offset <= size && len <= size - offset;
}

}  // namespace

std::vector<ZipEntry> ParseZipDirectory(const std::byte* data, size_t size,
                                        const std::string& origin) {
  const std::string where = origin + ": zip: ";
  Check(size >= kEocdSize, where + "file is " + std::to_string(size) +
                               " bytes, too short for an end of central directory record");

  // The EOCD is the last 22 bytes plus a comment of up to 64 KiB; scan back.
  size_t eocd = SIZE_MAX;
  const size_t lowest = size - kEocdSize > kMaxComment ? size - kEocdSize - kMaxComment : 0;
  for (size_t pos = size - kEocdSize + 1; pos-- > lowest;) {
    if (Le(data + pos, 4) == kEocdSig && pos + kEocdSize + Le(data + pos + 20, 2) <= size) {
      eocd = pos;
      break;
    }
  }
  Check(eocd != SIZE_MAX, where + "no end of central directory record (not a zip file?)");

  const std::byte* e = data + eocd;
  Check(Le(e + 4, 2) == 0 && Le(e + 6, 2) == 0, where + "multi-disk archives are not supported");
  uint64_t count = Le(e + 10, 2);
  uint64_t cd_size = Le(e + 12, 4);
  uint64_t cd_offset = Le(e + 16, 4);

  if (count == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
    // ZIP64: the locator sits right before the EOCD and points at the
    // ZIP64 EOCD record, which holds the 64-bit values.
    Check(eocd >= kZip64LocatorSize && Le(e - kZip64LocatorSize, 4) == kZip64LocatorSig,
          where + "EOCD fields need ZIP64 but the ZIP64 locator is missing");
    const uint64_t z64 = Le(e - kZip64LocatorSize + 8, 8);
    Check(InRange(z64, kZip64EocdSize, eocd - kZip64LocatorSize) &&
              Le(data + z64, 4) == kZip64EocdSig,
          where + "ZIP64 end of central directory record at " + std::to_string(z64) +
              " is missing or out of range");
    const std::byte* r = data + z64;
    Check(Le(r + 16, 4) == 0 && Le(r + 20, 4) == 0,
          where + "multi-disk archives are not supported");
    count = Le(r + 32, 8);
    cd_size = Le(r + 40, 8);
    cd_offset = Le(r + 48, 8);
  }
  Check(InRange(cd_offset, cd_size, eocd),
        where + "central directory [" + std::to_string(cd_offset) + ", +" +
            std::to_string(cd_size) + ") lies outside the archive");
  // Each entry takes at least 46 bytes: bounds `count` before any allocation.
  Check(count <= cd_size / kCentralSize, where + "central directory claims " +
                                             std::to_string(count) + " entries in " +
                                             std::to_string(cd_size) + " bytes");

  std::vector<ZipEntry> entries;
  entries.reserve(count);
  uint64_t pos = cd_offset;
  const uint64_t cd_end = cd_offset + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string at = where + "central directory entry " + std::to_string(i);
    Check(InRange(pos, kCentralSize, cd_end) && Le(data + pos, 4) == kCentralSig,
          at + ": bad signature or truncated at offset " + std::to_string(pos));
    const std::byte* c = data + pos;
    const uint64_t flags = Le(c + 8, 2);
    const uint64_t method = Le(c + 10, 2);
    uint64_t comp_size = Le(c + 20, 4);
    uint64_t uncomp_size = Le(c + 24, 4);
    const uint64_t name_len = Le(c + 28, 2);
    const uint64_t extra_len = Le(c + 30, 2);
    const uint64_t comment_len = Le(c + 32, 2);
    uint64_t local = Le(c + 42, 4);
    const uint64_t var_len = name_len + extra_len + comment_len;
    Check(InRange(pos + kCentralSize, var_len, cd_end), at + ": name/extra/comment truncated");

    ZipEntry entry;
    entry.name.assign(reinterpret_cast<const char*>(c + kCentralSize), name_len);
    const std::string named = where + "entry '" + entry.name + "'";

    // ZIP64 extended information: 64-bit values, present only for the
    // fields that are saturated in the fixed record, in this order.
    const std::byte* x = c + kCentralSize + name_len;
    const std::byte* x_end = x + extra_len;
    while (x_end - x >= 4) {
      const uint64_t id = Le(x, 2);
      const uint64_t len = Le(x + 2, 2);
      Check(len <= static_cast<uint64_t>(x_end - x - 4), named + ": extra field truncated");
      if (id == 0x0001) {
        const std::byte* f = x + 4;
        const std::byte* f_end = f + len;
        for (uint64_t* field : {&uncomp_size, &comp_size, &local}) {
          if (*field != 0xffffffff) continue;
          Check(f_end - f >= 8, named + ": ZIP64 extra field too short");
          *field = Le(f, 8);
          f += 8;
        }
      }
      x += 4 + len;
    }

    entry.stored = method == 0 && (flags & 1) == 0;  // encrypted data is unusable too
    Check(!entry.stored || comp_size == uncomp_size,
          named + ": stored entry with compressed size " + std::to_string(comp_size) + " != size " +
              std::to_string(uncomp_size));

    // The local header's name/extra lengths may differ from the central
    // directory's (PyTorch pads the local extra field for alignment).
    Check(InRange(local, kLocalSize, size) && Le(data + local, 4) == kLocalSig,
          named + ": local header at " + std::to_string(local) + " is missing or out of range");
    const uint64_t data_offset =
        local + kLocalSize + Le(data + local + 26, 2) + Le(data + local + 28, 2);
    Check(InRange(data_offset, comp_size, size),
          named + ": data [" + std::to_string(data_offset) + ", +" + std::to_string(comp_size) +
              ") runs past the end of the archive (" + std::to_string(size) + " bytes)");
    entry.data_offset = static_cast<size_t>(data_offset);
    entry.size = static_cast<size_t>(comp_size);
    entries.push_back(std::move(entry));
    pos += kCentralSize + var_len;
  }
  return entries;
}

}  // namespace talkie::io
