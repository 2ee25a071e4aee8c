#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# tests/data/gen_npy_data.py: writes the small .npy files of tests/io/test_npy.cpp with NumPy (run with
# /usr/bin/python3; deterministic). weights_4x6.npy, truncated_4x6.npy (its first 138 bytes) and
# f32_c_2x3_perturbed.npy belong to the CLI tests (examples/CMakeLists.txt) and are not written here.
import os
import sys

import numpy as np

OUT = os.path.dirname(os.path.abspath(__file__))


def save(name, array):
    np.save(os.path.join(OUT, name), array, allow_pickle=False)


def main():
    c_2x3 = np.arange(6, dtype='<f4').reshape(2, 3) * np.float32(0.5) - np.float32(1.0)
    save('f32_c_2x3.npy', c_2x3)
    save('f32_fortran_2x3.npy', np.asfortranarray(c_2x3))
    save('i1_4.npy', np.array([-128, -1, 0, 127], dtype=np.int8))
    save('u1_2x2.npy', np.array([[0, 1], [254, 255]], dtype=np.uint8))
    save('i2_3.npy', np.array([-32768, 7, 32767], dtype='<i2'))
    save('f8_3.npy', np.array([0.1, -2.5, 1e300], dtype='<f8'))
    save('f32_scalar.npy', np.array(3.5, dtype='<f4'))
    save('f32_empty_0x3.npy', np.zeros((0, 3), '<f4'))
    with open(os.path.join(OUT, 'f32_v2_3.npy'), 'wb') as f:
        np.lib.format.write_array(f, np.array([1.5, -0.25, 1e-3], dtype='<f4'), version=(2, 0))
    save('f32_bigendian_2.npy', np.array([1.0, 2.0], dtype='>f4'))
    save('f32_inf_2.npy', np.array([1.5, np.inf], dtype='<f4'))  # the tool's +-Inf hint

    # float16: normal, negative, the largest finite, the smallest subnormal, infinity, negative zero.
    f2 = np.array([[1.0, -2.5, 65504.0], [2.0 ** -24, np.inf, -0.0]], dtype='<f2')
    save('f2_c_2x3.npy', f2)
    save('f2_fortran_2x3.npy', np.asfortranarray(f2))
    save('f2_bigendian_2.npy', np.array([1.0, 2.0], dtype='>f2'))
    save('b1_2x3.npy', np.array([[True, False, True], [False, False, True]]))
    save('b1_fortran_2x3.npy', np.asfortranarray(np.array([[True, False, True], [False, False, True]])))
    # NumPy saves the bytes of a bool array as they are: a byte 2 viewed as bool is written unchanged.
    save('b1_invalid_3.npy', np.array([1, 2, 0], dtype=np.uint8).view(np.bool_))
    return 0


if __name__ == '__main__':
    sys.exit(main())
