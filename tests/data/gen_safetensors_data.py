#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tests/data/gen_safetensors_data.py: writes the .safetensors files of tests/io/test_safetensors.cpp by hand
# (struct + json, run with /usr/bin/python3; deterministic), in the two layouts real files come in:
#   reference_mixed.safetensors   as the reference (Rust) serializer lays a file out: compact JSON with raw UTF-8,
#                                 "__metadata__" first, tensors ordered by element size (largest first) then
#                                 name, header and offsets in that order, header padded with spaces to 8 bytes.
#   python_escapes.safetensors    as Python's json.dumps writes it: ', ' and ': ' separators, non-ASCII as \uXXXX
#                                 escapes (surrogate pairs above U+FFFF), header order unlike the offsets' order.
# Every dtype qmath reads appears once. float16 bits come from NumPy, bfloat16 bits from torch (round to nearest
# even), fp8 codes are written out (torch 1.13 has no float8).
import json
import os
import struct
import sys

import numpy as np
import torch

OUT = os.path.dirname(os.path.abspath(__file__))
ITEMSIZE = {'F64': 8, 'I64': 8, 'U64': 8, 'F32': 4, 'I32': 4, 'U32': 4, 'F16': 2, 'BF16': 2, 'I16': 2,
            'U16': 2, 'I8': 1, 'U8': 1, 'BOOL': 1, 'F8_E4M3': 1, 'F8_E5M2': 1}


def bf16_bytes(values):
    return torch.tensor(values, dtype=torch.float32).to(torch.bfloat16).view(torch.int16).numpy().tobytes()


def tensor(dtype, shape, data):
    assert len(data) == ITEMSIZE[dtype] * int(np.prod(shape, dtype=np.int64)), (dtype, shape, len(data))
    return {'dtype': dtype, 'shape': list(shape), 'data': data}


def layout(tensors, order):
    """Header dict entries and the data buffer, the buffer in `order`."""
    entries, buffer = {}, b''
    for name in order:
        t = tensors[name]
        entries[name] = {'dtype': t['dtype'], 'shape': t['shape'],
                         'data_offsets': [len(buffer), len(buffer) + len(t['data'])]}
        buffer += t['data']
    return entries, buffer


def write(name, header_text, buffer):
    header = header_text.encode('utf-8')
    header += b' ' * ((8 - len(header) % 8) % 8)
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(struct.pack('<Q', len(header)) + header + buffer)


def mixed():
    tensors = {
        'weight.f32': tensor('F32', [2, 3], np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5], '<f4').tobytes()),
        'weight.f16': tensor('F16', [2, 2], np.array([1.0, -2.5, 65504.0, 2.0 ** -24], '<f2').tobytes()),
        # -0.1 rounds to -0.10009765625 in bfloat16; 2^-133 is its smallest subnormal.
        'weight.bf16': tensor('BF16', [3], bf16_bytes([1.0, -0.1, 2.0 ** -133])),
        'weight.f64': tensor('F64', [3], np.array([0.1, -2.5, 1e300], '<f8').tobytes()),
        'codes.i8': tensor('I8', [4], np.array([-128, -1, 0, 127], np.int8).tobytes()),
        'codes.u8': tensor('U8', [2, 2], np.array([0, 1, 254, 255], np.uint8).tobytes()),
        'codes.i16': tensor('I16', [3], np.array([-32768, 7, 32767], '<i2').tobytes()),
        'codes.u16': tensor('U16', [2], np.array([0, 65535], '<u2').tobytes()),
        'acc.i32': tensor('I32', [3], np.array([-2 ** 31, 2 ** 24 + 1, 2 ** 31 - 1], '<i4').tobytes()),
        'acc.u32': tensor('U32', [2], np.array([2 ** 32 - 1, 3], '<u4').tobytes()),
        'acc.i64': tensor('I64', [2], np.array([-2 ** 63, 5], '<i8').tobytes()),
        'acc.u64': tensor('U64', [1], np.array([2 ** 64 - 1], '<u8').tobytes()),
        'mask': tensor('BOOL', [4], np.array([True, False, False, True]).tobytes()),
        # e4m3fn codes: 1.0, 448 (max), 2^-9 (min subnormal), -1.0. e5m2: 1.0, 57344 (max), 2^-16, +inf.
        'fp8.e4m3': tensor('F8_E4M3', [4], bytes([0x38, 0x7E, 0x01, 0xB8])),
        'fp8.e5m2': tensor('F8_E5M2', [4], bytes([0x3C, 0x7B, 0x01, 0x7C])),
        'scalar': tensor('F32', [], np.array(3.5, '<f4').tobytes()),
        'empty': tensor('F32', [0, 4], b''),
        'emb.\u00e9': tensor('F32', [1], np.array([2.0], '<f4').tobytes()),
    }
    order = sorted(tensors, key=lambda n: (-ITEMSIZE[tensors[n]['dtype']], n.encode('utf-8')))
    entries, buffer = layout(tensors, order)
    header = {'__metadata__': {'format': 'pt', 'source': 'qmath tests'}}
    header.update(entries)
    write('reference_mixed.safetensors', json.dumps(header, separators=(',', ':'), ensure_ascii=False), buffer)


def python_escapes():
    tensors = {
        '\U0001F600.weight': tensor('F16', [2], np.array([0.5, -0.25], '<f2').tobytes()),
        'b': tensor('U8', [3], bytes([1, 2, 3])),
        'tab\tname': tensor('I32', [1], np.array([-7], '<i4').tobytes()),
    }
    entries, buffer = layout(tensors, ['b', 'tab\tname', '\U0001F600.weight'])
    header = {name: entries[name] for name in ['\U0001F600.weight', 'tab\tname', 'b']}  # not the offsets' order
    header['__metadata__'] = {'description': 'line1\nline2 "quoted" back\\slash \u00e9'}
    write('python_escapes.safetensors', json.dumps(header), buffer)


def main():
    mixed()
    python_escapes()
    return 0


if __name__ == '__main__':
    sys.exit(main())
