# SPDX-License-Identifier: Apache-2.0
# tools/qmath/tests/compare_realdata_test.cmake: `qmath compare` end to end on real trained weights.
#
#   cmake -DQMATH=<tool> -DEXPORT=<export_realdata> [-DEMULATOR=<cmd|args>] -DREALDATA=<dir> -DWORK=<dir>
#         -P compare_realdata_test.cmake
#
# Exports ../shared/realdata's stories260K and MNIST CNN weights as .safetensors (export_realdata), runs
# `qmath compare --output json` on each, and checks the pooled SQNR of a few formats against the ranges of the
# real-data README (whose own simulation uses scale = absmax / qmax: see tests/realdata/test_realdata_sqnr.cpp).
# Prints SKIPPED (ctest's SKIP_REGULAR_EXPRESSION) when the real-data folder is absent.
cmake_minimum_required(VERSION 3.21)
string(REPLACE "|" ";" emulator "${EMULATOR}")
file(MAKE_DIRECTORY "${WORK}")
execute_process(COMMAND ${emulator} "${EXPORT}" "${REALDATA}" "${WORK}" RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(rc EQUAL 77)
  message("${out}")
  return()
elseif(NOT rc EQUAL 0)
  message(FATAL_ERROR "export_realdata failed (${rc}): ${out}${err}")
endif()

# check_sqnr(<json> <format> <min dB> <max dB>): the pooled ("(all)") row of <format>, one row per line.
# (A regex, not string(JSON): CMake re-parses the whole document on every JSON GET, which takes a minute here.)
function(check_sqnr json format lo hi)
  if(NOT json MATCHES "\"tensor\": ?\"\\(all\\)\", ?\"format\": ?\"${format}\"[^\n]*\"sqnr_db\": ?([-+.0-9e]+)")
    message(FATAL_ERROR "no pooled row for '${format}' in the JSON output")
  endif()
  set(sqnr "${CMAKE_MATCH_1}")
  if(sqnr LESS lo OR sqnr GREATER hi)
    message(FATAL_ERROR "${format}: pooled SQNR ${sqnr} dB is outside [${lo}, ${hi}]")
  endif()
  message("${format}: pooled SQNR ${sqnr} dB, within [${lo}, ${hi}]")
endfunction()

execute_process(COMMAND ${emulator} "${QMATH}" compare "${WORK}/stories260K.safetensors" --no-timing --output json
                        --chart "${WORK}/stories260K.svg"
                RESULT_VARIABLE rc OUTPUT_VARIABLE json ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "qmath compare failed (${rc}): ${err}")
endif()
check_sqnr("${json}" "fp16" 72 76)
check_sqnr("${json}" "bf16" 53 57)
check_sqnr("${json}" "int8 sym, channel" 40 46)
check_sqnr("${json}" "int4 sym, group 32" 17 21)
file(READ "${WORK}/stories260K.svg" svg)
if(NOT svg MATCHES "^<svg .*Pareto front.*int8 sym, channel.*</svg>")
  message(FATAL_ERROR "the chart is not an SVG with the Pareto plot and a heat-map row per format")
endif()

execute_process(COMMAND ${emulator} "${QMATH}" compare "${WORK}/mnist_cntk.safetensors" --no-timing
                RESULT_VARIABLE rc OUTPUT_VARIABLE table ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT table MATCHES "skipped 3 tensor\\(s\\) of rank < 2.*int8 sym, channel")
  message(FATAL_ERROR "qmath compare on the MNIST CNN (${rc}): ${table}${err}")
endif()
message("${table}")
