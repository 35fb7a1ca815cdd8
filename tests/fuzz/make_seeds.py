#!/usr/bin/env python3
"""make_seeds.py — write the seed corpora of tests/fuzz/corpus/<harness>/ (run from anywhere; rewrites them).

Small files that reach every branch a reader has: valid files of each kind, and the edge cases of each
format (safetensors specification: header size limit, overlapping offsets and holes, __metadata__ that
is not string-to-string, duplicate keys, dtype sizes that do not match; IDX: truncation, huge dims, wrong
magic; .vec: text and binary, duplicates, NaN, out-of-range values)."""
import gzip, json, os, struct, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(harness, name, data):
    d = os.path.join(root, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# ---- IDX -----------------------------------------------------------------------
def idx(dtype, dims, payload=None, extra=b""):
    n = 1
    for d in dims:
        n *= d
    if payload is None:
        payload = bytes((i * 7 + 3) & 255 for i in range(n))
    return bytes([0, 0, dtype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload + extra

put("idx", "images_2x3x4", idx(8, [2, 3, 4]))
put("idx", "labels_5", idx(8, [5], bytes([0, 1, 2, 9, 7])))
put("idx", "images_2x3x4.gz", gzip.compress(idx(8, [2, 3, 4]), mtime=0))
put("idx", "labels.gz", gzip.compress(idx(8, [5], bytes(5)), mtime=0))
put("idx", "truncated_gz", gzip.compress(idx(8, [4, 4]), mtime=0)[:-9])
put("idx", "truncated_payload", idx(8, [2, 3, 4])[:-1])
put("idx", "truncated_header", idx(8, [2, 3, 4])[:9])
put("idx", "trailing", idx(8, [3], extra=b"x"))
put("idx", "huge_dims", bytes([0, 0, 8, 3]) + b"\xff\xff\xff\xff" * 3 + b"ab")
put("idx", "overflow_dims", bytes([0, 0, 8, 4]) + b"\xff\xff\xff\xff" * 4)
put("idx", "zero_dim", idx(8, [0, 28, 28]))
put("idx", "magic_signed_byte", idx(9, [4]))
put("idx", "magic_float", idx(0x0D, [1], b"\0\0\x80\x3f"))
put("idx", "magic_bad", b"\x01\x02\x08\x01\0\0\0\x01x")
put("idx", "ndim_0", b"\0\0\x08\0")
put("idx", "ndim_255", b"\0\0\x08\xff" + b"\0\0\0\x01" * 8)
put("idx", "empty", b"")
# the one-call gzip path (libdeflate) and its header and payload checks; two members go to zlib
put("idx", "gz_truncated_payload", gzip.compress(idx(8, [2, 3, 4])[:-1], mtime=0))
put("idx", "gz_trailing", gzip.compress(idx(8, [3], extra=b"x"), mtime=0))
put("idx", "gz_truncated_header", gzip.compress(idx(8, [2, 3, 4])[:9], mtime=0))
put("idx", "gz_two_members", gzip.compress(idx(8, [2, 3, 4])[:7], mtime=0) + gzip.compress(idx(8, [2, 3, 4])[7:], mtime=0))

# ---- safetensors ---------------------------------------------------------------
def st(header, data=b"", pad=True, raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data

f32 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
put("safetensors", "valid_f32_i32_meta", st({
    "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
    "b": {"dtype": "I32", "shape": [2], "data_offsets": [24, 32]},
    "__metadata__": {"format": "pt", "arch": "784-16-10"}}, f32 + struct.pack("<2i", -1, 7)))
put("safetensors", "valid_all_dtypes", st({
    "f64": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]},
    "f16": {"dtype": "F16", "shape": [2], "data_offsets": [8, 12]},
    "bf16": {"dtype": "BF16", "shape": [2], "data_offsets": [12, 16]},
    "i64": {"dtype": "I64", "shape": [1], "data_offsets": [16, 24]},
    "i16": {"dtype": "I16", "shape": [1], "data_offsets": [24, 26]},
    "i8": {"dtype": "I8", "shape": [1], "data_offsets": [26, 27]},
    "u8": {"dtype": "U8", "shape": [1], "data_offsets": [27, 28]},
    "bool": {"dtype": "BOOL", "shape": [1], "data_offsets": [28, 29]},
    "f8": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [29, 30]},
    "u16": {"dtype": "U16", "shape": [1], "data_offsets": [30, 32]},
    "u32": {"dtype": "U32", "shape": [1], "data_offsets": [32, 36]},
    "u64": {"dtype": "U64", "shape": [1], "data_offsets": [36, 44]}},
    struct.pack("<d", 1.5) + b"\x00\x3c\x00\xc0" + b"\x80\x3f\x00\xc0" + struct.pack("<q", -3) + b"\x05\x00\xfb\x07\x01\x40"
    + b"\x09\x00" + struct.pack("<I", 5) + struct.pack("<Q", 6)))
put("safetensors", "i64_too_big", st({"x": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}, struct.pack("<q", 1 << 40)))
put("safetensors", "scalar_and_empty", st({
    "s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
    "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [4, 4]}}, struct.pack("<f", 2)))
put("safetensors", "nine_dims", st({"x": {"dtype": "F32", "shape": [1] * 9, "data_offsets": [0, 4]}}, b"\0" * 4))
put("safetensors", "empty_header", st({}))
put("safetensors", "header_only_metadata", st({"__metadata__": {}}))
put("safetensors", "unpadded", st({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0\0\x80\x3f", pad=False))
# header size: past the end of the file, above the 100 MB limit, 2^64 - 1, too small
put("safetensors", "hlen_past_end", struct.pack("<Q", 1000) + b"{}")
put("safetensors", "hlen_over_limit", struct.pack("<Q", (100 << 20) + 1) + b"{}")
put("safetensors", "hlen_max", struct.pack("<Q", 2**64 - 1) + b"{}")
put("safetensors", "hlen_1", struct.pack("<Q", 1) + b"{")
put("safetensors", "short_7_bytes", b"\x02\0\0\0\0\0\0")
# offsets: overlapping, a hole, past the end, reversed, not starting at 0, trailing bytes
put("safetensors", "offsets_overlap", st({
    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12))
put("safetensors", "offsets_hole", st({
    "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
    "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, b"\0" * 12))
put("safetensors", "offsets_past_end", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4))
put("safetensors", "offsets_reversed", st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4))
put("safetensors", "offsets_not_from_0", st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8))
put("safetensors", "offsets_huge", st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [18446744073709551612, 18446744073709551615]}}))
put("safetensors", "trailing_data", st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 9))
# __metadata__ not string-to-string
put("safetensors", "meta_number", st({"__metadata__": {"a": 1}}))
put("safetensors", "meta_nested", st({"__metadata__": {"a": {"b": "c"}}}))
put("safetensors", "meta_list", st({"__metadata__": ["a", "b"]}))
put("safetensors", "meta_null", st({"__metadata__": None}))
put("safetensors", "meta_escapes", st({"__metadata__": {"k\u00e9\n": "v\"\\\u2603\U0001F600", "": ""}}))
# duplicate keys (json.dumps cannot write them)
put("safetensors", "dup_tensor", st(None, b"\0" * 8, raw_header=
    b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'))
put("safetensors", "dup_meta_key", st(None, raw_header=b'{"__metadata__":{"k":"1","k":"2"}}'))
put("safetensors", "dup_metadata", st(None, raw_header=b'{"__metadata__":{"k":"1"},"__metadata__":{"j":"2"}}'))
put("safetensors", "dup_field", st(None, b"\0" * 4, raw_header=
    b'{"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}'))
# dtype sizes that do not match the byte count; unknown dtype; bad shapes
put("safetensors", "dtype_size_mismatch", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4))
put("safetensors", "f16_odd_bytes", st({"a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 3]}}, b"\0" * 3))
put("safetensors", "dtype_unknown", st({"a": {"dtype": "F31", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4))
put("safetensors", "shape_negative", st({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4))
put("safetensors", "shape_float", st({"a": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}}, b"\0" * 4))
put("safetensors", "shape_overflow", st({"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 4]}}, b"\0" * 4))
put("safetensors", "missing_offsets", st({"a": {"dtype": "F32", "shape": [1]}}, b"\0" * 4))
put("safetensors", "extra_field", st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": [1, {"y": None}]}}, b"\0" * 4))
put("safetensors", "name_metadata_tensor", st(None, raw_header=b'{"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'))
# JSON: escapes, a lone surrogate, a NUL, not an object, trailing garbage, bad UTF-8, deep nesting
put("safetensors", "json_unicode_name", st(None, b"\0" * 4, raw_header=
    '{"\\u00e9\\ud83d\\ude00\\n":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'.encode()))
put("safetensors", "json_lone_surrogate", st(None, raw_header=b'{"__metadata__":{"a":"\\ud800"}}'))
put("safetensors", "json_nul_escape", st(None, raw_header=b'{"__metadata__":{"a":"x\\u0000y"}}'))
put("safetensors", "json_not_object", st(None, raw_header=b'[1,2,3]'))
put("safetensors", "json_trailing", st(None, raw_header=b'{} {}'))
put("safetensors", "json_bad_utf8", st(None, raw_header=b'{"__metadata__":{"a":"\xff\xfe"}}'))
put("safetensors", "json_deep", st(None, b"\0" * 4, raw_header=
    b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":' + b"[" * 200 + b"]" * 200 + b"}}"))
put("safetensors", "json_numbers", st(None, b"\0" * 4, raw_header=
    b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":[-0.5e+3,1E-2,0,-0]}}'))
# what jansson refuses that the hand-written parser let through: a key repeated inside an unknown field,
# a NUL that cut a dtype short, a number that overflows a double
put("safetensors", "json_dup_nested", st(None, b"\0" * 4, raw_header=
    b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":{"y":1,"y":2}}}'))
put("safetensors", "json_nul_dtype", st(None, b"\0" * 4, raw_header=
    b'{"a":{"dtype":"F32\\u0000x","shape":[1],"data_offsets":[0,4]}}'))
put("safetensors", "json_huge_numbers", st(None, b"\0" * 4, raw_header=
    b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,9223372036854775808],"x":1e400}}'))

# ---- .vec -------------------------------------------------------------------------
def vbin(rows, n=None, dim=None):
    dim = dim if dim is not None else len(rows[0][1])
    out = b"%d %d\n" % (len(rows) if n is None else n, dim)
    for w, v in rows:
        out += w + b" " + struct.pack("<%df" % len(v), *v) + b"\n"
    return out

put("vec", "text", "3 4\nthe 0.1 -0.2 0.3 1e-3\ncaf\u00e9 1 2 3 4\nx-y 0 0 0 0\n")
put("vec", "text_crlf_tabs", "2 2\r\na\t1\t2\r\nb 3 4\r\n")
put("vec", "text_no_final_newline", "1 3\nw 1 2 3")
put("vec", "binary", vbin([(b"the", [0.1, -0.2, 0.3]), (b"caf\xc3\xa9", [1, 2, 3]), (b"z", [float.fromhex("0x1.00000ap+0"), 0, 0])]))
put("vec", "binary_newline_byte", vbin([(b"a", [struct.unpack("<f", b"\n\0\x80\x3f")[0]])]))
put("vec", "binary_no_newlines", b"2 1\na \0\0\x80\x3fb \0\0\0\x40")
put("vec", "dup_text", "3 1\na 1\nb 2\na 3\n")
put("vec", "dup_binary", vbin([(b"xy", [1]), (b"xy", [2])]))
put("vec", "nan_text", "2 2\na 1 2\nb nan 4\n")
put("vec", "inf_text", "1 3\na inf -Infinity 1\n")
put("vec", "nan_binary", vbin([(b"a", [float("nan"), 1])]))
put("vec", "inf_binary", vbin([(b"a", [1, float("-inf")])]))
put("vec", "out_of_range", "1 2\na 1e39 -4e38\n")
put("vec", "denormal", "1 2\na 1e-45 1e-50\n")
put("vec", "hex_float", "1 2\na 0x1p-3 -0X1.8P1\n")
put("vec", "count_smaller", "1 2\na 1 2\nb 3 4\n")
put("vec", "count_larger", "3 2\na 1 2\nb 3 4\n")
put("vec", "dim_too_large", "2 5\nalpha 1 2 3\nbeta 4 5 6\n")
put("vec", "dim_too_small", "1 2\na 1 2 3\n")
put("vec", "glued_numbers", "1 2\na 1.5.5 2\n")
put("vec", "long_word", b"1 1\n" + b"w" * 1001 + b" 0.5\n")
put("vec", "long_word_binary", b"1 1\n" + b"w" * 1001 + b" \0\0\0\x3f\n")
put("vec", "huge_header", "100000000 100000\na 1\n")
put("vec", "header_only", "0 5\n")
put("vec", "header_bad", "two 5\n")
put("vec", "header_extra", "1 2 3\na 1 2\n")
put("vec", "empty_line", "2 1\na 1\n\nb 2\n")
put("vec", "nul_in_text", b"1 2\na 1\x002\n")
put("vec", "nul_in_binary_word", b"1 1\na\0b \0\0\x80\x3f\n")
put("vec", "empty", "")

# ---- GCIDE (dictd text; the dictionary's own first lines and a few entries) ---------
gc_head = "00-database-info\nThis file was converted from the original database on:\n  Wed Jan  1 00:00:00 2020\n\n"
gc = gc_head + (
    "A \\A\\ (named [.a] in the English, and most commonly [aum] in other\n"
    "   languages).\n   [1913 Webster]\n\n"
    "Abacus \\Ab\"a*cus\\, n.; pl. E. {Abacuses}; L. {Abaci}. [L.\n"
    "   abacus, Gr. 'a`bax, 'a`bakos.]\n"
    "   1. A table or tray strewn with sand, anciently used for drawing,\n"
    "      calculating, etc. [Obs.]\n      [1913 Webster]\n\n"
    "Caf&eacute; \\Caf`&eacute;\\, n. A coffee house; --Gladstone. &AElig;sop's\n"
    "   <i>tale</i> of the &lt;b&gt;; co-operate, don't, a--b, x*y\"z`w.\n"
    "   [WordNet 1.5]\n\n"
    "Unclosed [bracket spans\nlines ] and [=a] [^e] [oo] [a^] [-e] [.o]\n"
    "   &unknownentity; &amp &;  &abcdefghijklmnop; \\pron never closed\n\n")
put("gcide", "entries", gc)
put("gcide", "header_only", gc_head)
put("gcide", "no_header", "Word \\Word\\, n. Something. [1913 Webster]\n\n")
put("gcide", "long_line", gc_head + "Long \\Long\\, a.\n   " + "word " * 1900 + "\n\n")
put("gcide", "crlf", gc_head.replace("\n", "\r\n") + "Crlf \\Crlf\\, n.\r\n   text here\r\n\r\n")
put("gcide", "nul_bytes", gc_head.encode() + b"Nul \\Nul\\, n.\n   a\0b c\n\n")
put("gcide", "brackets_deep", gc_head + "X \\X\\, n. " + "[" * 50 + "deep" + "]" * 49 + "\nstill inside ]\nafter\n\n")

# ---- CLIP captions (index, NUL, dictionary) ------------------------------------------
def b64(v):
    al = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    s = ""
    while True:
        s = al[v % 64] + s
        v //= 64
        if not v:
            return s

def dictd(entries):
    """entries: (headword, text) -> index + NUL + dictionary (the dictd layout of Debian's dict-gcide)"""
    body, index = "", ""
    for hw, text in entries:
        index += "%s\t%s\t%s\n" % (hw, b64(len(body.encode())), b64(len(text.encode())))
        body += text
    return index.encode() + b"\0" + body.encode()

sandal = ("Sandal \\San\"dal\\, n. [F. sandale.]\n"
          "   (a) A kind of shoe consisting of a sole strapped to the foot;\n"
          "       a protection for the foot.\n   (b) A kind of slipper.\n       [1913 Webster]\n\n")
shirt = ("Shirt \\Shirt\\, n. [OE. schirte.]\n   A loose under-garment for the upper part of the body.\n"
         "   [1913 Webster]\n\n         Several persons had nothing.  --Dryden.\n   [1913 Webster]\n"
         "   {Shirt of mail}, a coat of mail.\n")
coat = ("Coat \\Coat\\, n. [OF. cote.]\n   1. An outer garment fitting the upper part of the body.\n"
        "      [1913 Webster]\n   2. A petticoat. [Obs.]\n      [1913 Webster]\n"
        "   Note: A note.\n   Syn. -- synonyms.\n")
verb = "Shirt \\Shirt\\, v. t. To cover or clothe with a shirt.\n   [1913 Webster]\n"
put("captions", "three_nouns", dictd([("Sandal", sandal), ("Shirt", shirt), ("Coat", coat)]))
put("captions", "verb_and_noun", dictd([("Shirt", verb), ("shirt", shirt), ("Boot", "Boot \\Boot\\, n. A shoe worn on the foot.\n")]))
put("captions", "no_match", dictd([("Abacus", "Abacus \\Ab\"a*cus\\, n. A table.\n")]))
put("captions", "bad_offset", b"Sandal\t*bad\tCP\n\0")
put("captions", "past_end", b"Sandal\tB1KCX\tCP\nShirt\tA\t////\n\0short")
put("captions", "gzip_dict", dictd([("Sandal", sandal)]).split(b"\0")[0] + b"\0" +
    gzip.compress(sandal.encode(), mtime=0))
put("captions", "empty", b"")

# ---- tuning file (<cache dir>/gemm_tune.txt; the harness's device is "dev", driver "1") ---
put("tune", "valid", "dev\t1\tnn\t4,8,2\ndev\t1\ttn\tclblast\ndev\t1\tnt\tlocal\ndev\t1\tnarrow\tsimple\n")
put("tune", "other_device", "other\t1\tnn\t4,8,2\ndev\t2\tnn\tlocal\n")
put("tune", "bad_tiles", "dev\t1\tnn\t0,8,2\ndev\t1\tnn\t17,8,2\ndev\t1\tnn\t4,5,2\ndev\t1\tnn\t4,8,9\ndev\t1\tnn\t-1,-1,-1\n"
    "dev\t1\ttn\t4,8\ndev\t1\tnt\t99999999999999999999,8,1\ndev\t1\tnarrow\tbogus\n")
put("tune", "missing_fields", "dev\t1\tnn\ndev\t1\n\n\t\t\t\ndev\n")
put("tune", "long_line", "dev\t1\tnn\t" + "4," * 400 + "8,2\n" + "x" * 700 + "dev\t1\ttn\tlocal\n")
put("tune", "crlf", "dev\t1\tnn\t4,8,2\r\ndev\t1\ttn\tclblast\r\n")
put("tune", "empty", "")

# ---- launch lists (the compile helper's input, src/launch_list.c); the harness appends the checksum
# to inputs whose first byte is below 0x80, so these seeds leave it out ----------------------------
def lt(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<I", len(b)) + b

def launch(prog, name, dims, g, l, args):
    out = struct.pack("<I", prog) + lt(name) + struct.pack("<I", dims) + struct.pack("<6Q", *g, *l)
    out += struct.pack("<I", len(args))
    for kind, size, value in args:
        out += struct.pack("<IQ", kind, size) + value.ljust(8, b"\0")
    return out

def launches(progs, ls, magic=b"CLGLNCH1"):
    out = magic + struct.pack("<II", len(progs), len(ls))
    for src, opt in progs:
        out += lt(src) + lt(opt)
    for x in ls:
        out += x
    return out

k = "__kernel void k(__global float *x, int n) { }"
valid = [launch(0, "k", 1, (64, 1, 1), (64, 0, 0), [(0, 256, b""), (1, 4, b"\x10"), (2, 128, b"")]),
         launch(0, "k", 2, (8, 8, 1), (0, 0, 0), [(0, 0, b""), (1, 8, b"\1" * 8)])]
put("launches", "valid", launches([(k, "-cl-std=CL1.2")], valid))
put("launches", "programs_only", launches([(k, ""), ("", "-DX")], []))
put("launches", "empty_list", launches([], []))
put("launches", "bad_program", launches([(k, "")], [launch(3, "k", 1, (1, 1, 1), (1, 0, 0), [])]))
put("launches", "bad_dims", launches([(k, "")], [launch(0, "k", 4, (1, 1, 1), (1, 0, 0), [])]))
put("launches", "long_name", launches([(k, "")], [launch(0, "k" * 64, 1, (1, 1, 1), (1, 0, 0), [])]))
put("launches", "empty_name", launches([(k, "")], [launch(0, "", 1, (1, 1, 1), (1, 0, 0), [])]))
put("launches", "bad_arg_kind", launches([(k, "")], [launch(0, "k", 1, (1, 1, 1), (1, 0, 0), [(7, 4, b"")])]))
put("launches", "scalar_size", launches([(k, "")], [launch(0, "k", 1, (1, 1, 1), (1, 0, 0), [(1, 9, b"")])]))
put("launches", "too_many_args", launches([(k, "")], [launch(0, "k", 1, (1, 1, 1), (1, 0, 0), [(1, 4, b"")] * 33)]))
put("launches", "counts_huge", b"CLGLNCH1" + struct.pack("<II", 0xffffffff, 0xffffffff))
put("launches", "text_past_end", b"CLGLNCH1" + struct.pack("<III", 1, 0, 1000) + b"abc")
put("launches", "nul_in_source", launches([("a\0b", "")], []))
put("launches", "wrong_magic", launches([(k, "")], valid, magic=b"CLGLNCH2"))
put("launches", "trailing", launches([(k, "")], valid) + b"extra")
put("launches", "truncated", launches([(k, "")], valid)[:-5])
