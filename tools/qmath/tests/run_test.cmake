# SPDX-License-Identifier: Apache-2.0
# tools/qmath/tests/run_test.cmake: ctest script that runs `qmath ARGS...` once and checks its exit status and output.
#
#   cmake -DQMATH=<tool> [-DEMULATOR=<cmd|args>] -DARGS=<a|b|c> -DEXPECT_RC=<n> -DEXPECT=<regex>
#         [-DPARAMS_CASE=<case> -DPARAMS_FILE=<path>] -P run_test.cmake
#
# Lists come '|'-separated, since ';' would split them on the way through add_test. With EXPECT_RC 2 (an error),
# stdout must be empty and stderr exactly one line `qmath: <message>` matching EXPECT; otherwise stdout must match
# EXPECT. PARAMS_CASE first writes one of the hand-made parameters files below to PARAMS_FILE, to test the
# reader of `qmath dequantize --params` on input that `qmath quantize` never writes.
cmake_minimum_required(VERSION 3.21)
string(REPLACE "|" ";" args "${ARGS}")
string(REPLACE "|" ";" emulator "${EMULATOR}")

# Valid parameters for tests/data/i1_4.npy (int8, shape [4]), in quantize's key order.
set(base_json [=[{"dtype": "int8", "profile": "pytorch", "scheme": "affine", "granularity": "tensor", "axis": 0,
 "group_size": 0, "qmin": -128, "qmax": 127, "scale": [0.5], "zero_point": [0]}]=])
if(DEFINED PARAMS_CASE)
  if(PARAMS_CASE STREQUAL "reordered")  # valid: any key order and spacing, numbers in exponent form
    set(json [=[
      {"zero_point":[-1],"scale":[5e-1],"qmax":127,"qmin":-128,"group_size":0,"axis":0,
       "granularity":"tensor","scheme":"symmetric","profile":"onnx","dtype":"int8"}
    ]=])
  elseif(PARAMS_CASE STREQUAL "missing_key")
    string(REPLACE [=[, "qmax": 127]=] "" json "${base_json}")
  elseif(PARAMS_CASE STREQUAL "duplicate_key")
    string(REPLACE [=["qmax": 127]=] [=["qmax": 127, "qmax": 127]=] json "${base_json}")
  elseif(PARAMS_CASE STREQUAL "unknown_key")
    string(REPLACE [=["qmax": 127]=] [=["qmax": 127, "bits": 8]=] json "${base_json}")
  elseif(PARAMS_CASE STREQUAL "trailing_text")
    set(json "${base_json} {}")
  elseif(PARAMS_CASE STREQUAL "scale_overflow")
    string(REPLACE [=[[0.5]]=] [=[[1e39]]=] json "${base_json}")
  elseif(PARAMS_CASE STREQUAL "count_mismatch")
    string(REPLACE [=[[0.5]]=] [=[[0.5, 0.25]]=] json "${base_json}")
  elseif(PARAMS_CASE STREQUAL "wrong_dtype")
    string(REPLACE [=["int8"]=] [=["int16"]=] json "${base_json}")
  elseif(PARAMS_CASE STREQUAL "axis_out_of_range")
    string(REPLACE [=["tensor", "axis": 0]=] [=["channel", "axis": 1]=] json "${base_json}")
  elseif(PARAMS_CASE STREQUAL "float_zero_point")
    string(REPLACE [=[[0]}]=] [=[[0.5]}]=] json "${base_json}")
  else()
    message(FATAL_ERROR "unknown PARAMS_CASE '${PARAMS_CASE}'")
  endif()
  if(json STREQUAL base_json AND NOT PARAMS_CASE STREQUAL "reordered")
    message(FATAL_ERROR "PARAMS_CASE '${PARAMS_CASE}' did not change the base file: fix the REPLACE pattern")
  endif()
  file(WRITE "${PARAMS_FILE}" "${json}")
endif()

execute_process(COMMAND ${emulator} "${QMATH}" ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "qmath ${args}\n  exit status: ${rc}\n  stdout: ${out}\n  stderr: ${err}")
if(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "expected exit status ${EXPECT_RC}, got ${rc}")
endif()
if(EXPECT_RC STREQUAL "2")
  if(NOT out STREQUAL "")
    message(FATAL_ERROR "an error must print nothing on stdout")
  endif()
  if(NOT err MATCHES "^qmath: [^\n]+\n$")
    message(FATAL_ERROR "stderr must be exactly one line `qmath: <message>`")
  endif()
  set(checked "${err}")
else()
  set(checked "${out}")
endif()
if(NOT checked MATCHES "${EXPECT}")
  message(FATAL_ERROR "the output does not match '${EXPECT}'")
endif()
