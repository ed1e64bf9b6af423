// Whether a string read from a file is well-formed UTF-8. Names and labels that pda writes into JSON
// (`pda info --json`, `predict --json`, summary.json) must be: nlohmann::json refuses to serialise
// anything else, which would turn a user's odd file into an internal error after the work is done.
// So the readers of such strings (the ONNX importer, the labels reader) check them up front.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pda {

// RFC 3629: no overlong forms, no UTF-16 surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
inline bool is_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len = 0;
        uint32_t cp = 0;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;  // a continuation byte first, 0xC0/0xC1 (overlong) or 0xF5.. (beyond U+10FFFF)
        }
        if (s.size() - i < len) return false;
        for (size_t k = 1; k < len; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
        if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
        i += len;
    }
    return true;
}

}  // namespace pda
