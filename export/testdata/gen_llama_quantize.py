#!/usr/bin/env python3
"""Regenerates llama_quantize.json: the ggml type and SHA-256 of every tensor
llama.cpp's own quantiser (llama_model_quantize in the libllama that npm
node-llama-cpp 3.21.1 ships, the code behind llama-quantize) writes when it
quantises export_test's f32 reference model to Q8_0, Q4_0 and Q4_K_M.

Usage, from the repository root, after `cd testdata/llamacpp && npm ci`:
    python3 export/testdata/gen_llama_quantize.py
It runs `go test ./export -run TestQuantizeMatchesLlamaCpp` twice with
ALIGN_GGUF_GEN set: first to write the f32 input, then (after quantising here
with ctypes) to hash llama.cpp's outputs into export/testdata/llama_quantize.json.
"""
import ctypes, glob, os, subprocess, sys, tempfile

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
bins = os.path.join(root, "testdata/llamacpp/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64")
work = tempfile.mkdtemp(prefix="llama-quantize-")
env = dict(os.environ, ALIGN_GGUF_GEN=work)
run = ["go", "test", "./export", "-run", "TestQuantizeMatchesLlamaCpp", "-count=1"]
subprocess.run(run, cwd=root, env=env, check=True)

for lib in ["libggml-base.so", "libggml.v0.4.0.so"]:
    ctypes.CDLL(os.path.join(bins, lib), mode=ctypes.RTLD_GLOBAL)
llama = ctypes.CDLL(glob.glob(os.path.join(bins, "libllama.v*.so"))[0], mode=ctypes.RTLD_GLOBAL)
llama.llama_backend_init()

class Params(ctypes.Structure):
    # llama_model_quantize_params is returned by value; its leading fields
    # (int32 nthread, enum llama_ftype ftype) are stable across versions and the
    # rest is passed back untouched, so an oversized opaque buffer suffices.
    _fields_ = [("nthread", ctypes.c_int32), ("ftype", ctypes.c_int32), ("rest", ctypes.c_uint8 * 248)]

llama.llama_model_quantize_default_params.restype = Params
llama.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(Params)]
llama.llama_model_quantize.restype = ctypes.c_uint32
for name, ftype in [("q8_0", 7), ("q4_0", 2), ("q4_k_m", 15)]:
    p = llama.llama_model_quantize_default_params()
    p.nthread, p.ftype = 1, ftype
    src, dst = os.path.join(work, "input.gguf"), os.path.join(work, name + ".gguf")
    if llama.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p)) != 0:
        sys.exit("llama_model_quantize failed for " + name)

subprocess.run(run, cwd=root, env=env, check=True)
