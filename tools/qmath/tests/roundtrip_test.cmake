# SPDX-License-Identifier: Apache-2.0
# tools/qmath/tests/roundtrip_test.cmake: ctest script: `qmath quantize` a .npy, `qmath dequantize` the codes, and
# `qmath diff` the result with the input, which must agree within TOLERANCE.
#
#   cmake -DQMATH=<tool> [-DEMULATOR=<cmd|args>] -DINPUT=<x.npy> -DPREFIX=<output path prefix>
#         -DQUANTIZE_ARGS=<a|b> -DDEQUANTIZE_ARGS=<a|b> -DTOLERANCE=<t> -DSUMMARY=<regex> -P roundtrip_test.cmake
#
# Lists come '|'-separated, since ';' would split them on the way through add_test. SUMMARY must match the
# line quantize prints. Outputs: PREFIX_codes.npy, PREFIX_codes.json (quantize's default) and PREFIX_back.npy.
cmake_minimum_required(VERSION 3.21)
string(REPLACE "|" ";" emulator "${EMULATOR}")
string(REPLACE "|" ";" quantize_args "${QUANTIZE_ARGS}")
string(REPLACE "|" ";" dequantize_args "${DEQUANTIZE_ARGS}")
set(codes "${PREFIX}_codes.npy")
set(params "${PREFIX}_codes.json")
set(back "${PREFIX}_back.npy")
get_filename_component(work_dir "${PREFIX}" DIRECTORY)
file(MAKE_DIRECTORY "${work_dir}")
file(REMOVE "${codes}" "${params}" "${back}")  # a pass must not come from an earlier run's files

function(run_qmath out_var)
  execute_process(COMMAND ${emulator} "${QMATH}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "qmath ${ARGN}\n  exit status: ${rc}\n  stdout: ${out}\n  stderr: ${err}")
  if(NOT rc STREQUAL "0")
    message(FATAL_ERROR "qmath failed with exit status ${rc}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

run_qmath(summary quantize "${INPUT}" "${codes}" ${quantize_args})
if(NOT summary MATCHES "${SUMMARY}")
  message(FATAL_ERROR "the summary line does not match '${SUMMARY}'")
endif()
if(NOT EXISTS "${params}")
  message(FATAL_ERROR "quantize wrote no parameters file at ${params}")
endif()
run_qmath(summary dequantize "${codes}" "${back}" ${dequantize_args})
run_qmath(summary diff "${INPUT}" "${back}" --tolerance "${TOLERANCE}")
