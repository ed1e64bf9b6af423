// .npy reader and writer for float tensors (see npy.h).
#include "io/npy.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace pda {

void write_npy(const std::string& path, ConstTensorView t) {
    std::string dims;
    for (int i = 0; i < t.shape.rank; ++i)
        dims += std::to_string(t.shape[i]) + (t.shape.rank == 1 ? "," : i + 1 < t.shape.rank ? ", " : "");
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) fail_input(path + ": cannot write");
        const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
        f.write(reinterpret_cast<const char*>(magic), 8);
        uint16_t len = static_cast<uint16_t>(header.size());
        f.put(static_cast<char>(len & 0xff)).put(static_cast<char>(len >> 8));
        f << header;
        f.write(reinterpret_cast<const char*>(t.data), static_cast<std::streamsize>(sizeof(float) * t.numel()));
        if (!f.flush()) fail_input(path + ": write failed");
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) fail_input(path + ": cannot rename into place: " + ec.message());
}

Tensor read_npy(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail_input(path + ": cannot open");
    char magic[8];
    if (!f.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) fail_input(path + ": not an .npy file");
    size_t len = 0;
    if (magic[6] == 1) {
        unsigned char l[2];
        f.read(reinterpret_cast<char*>(l), 2);
        len = l[0] | (l[1] << 8);
    } else {
        unsigned char l[4];
        f.read(reinterpret_cast<char*>(l), 4);
        len = l[0] | (l[1] << 8) | (l[2] << 16) | (static_cast<size_t>(l[3]) << 24);
    }
    std::string header(len, '\0');
    if (!f.read(header.data(), static_cast<std::streamsize>(len))) fail_input(path + ": truncated header");
    bool f8 = header.find("'<f8'") != std::string::npos;
    if (!f8 && header.find("'<f4'") == std::string::npos) fail_input(path + ": only float32/float64 arrays are read");
    if (header.find("'fortran_order': True") != std::string::npos) fail_input(path + ": Fortran order not supported");
    size_t open = header.find('(', header.find("'shape'")), close = header.find(')', open);
    std::vector<int64_t> dims;
    std::string inner = header.substr(open + 1, close - open - 1);
    for (size_t p = 0; p < inner.size();) {
        size_t q = inner.find(',', p);
        std::string tok = inner.substr(p, q == std::string::npos ? std::string::npos : q - p);
        if (tok.find_first_of("0123456789") != std::string::npos) dims.push_back(std::stoll(tok));
        if (q == std::string::npos) break;
        p = q + 1;
    }
    Tensor t{Shape(dims)};
    if (f8) {
        std::vector<double> buf(static_cast<size_t>(t.numel()));
        if (!f.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(8 * buf.size())))
            fail_input(path + ": truncated data");
        for (size_t i = 0; i < buf.size(); ++i) t.data()[i] = static_cast<float>(buf[i]);
    } else if (!f.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(4 * t.numel()))) {
        fail_input(path + ": truncated data");
    }
    return t;
}

}  // namespace pda
