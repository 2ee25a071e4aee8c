# SPDX-License-Identifier: Apache-2.0
# tools/qmath/tests/tests.cmake: the tool's ctest entries: its output, round trips through quantize / dequantize / diff,
# and every error a user can meet (exit status 2 and one line).
# The tour must show the article's fp32 bits of 6.25 (in a cross build, ctest runs it under the emulator).
add_test(NAME qmath_formats_tour COMMAND qmath_cli formats)
set_tests_properties(qmath_formats_tour PROPERTIES
  LABELS unit PASS_REGULAR_EXPRESSION "0\\|10000001\\|10010000000000000000000")
add_test(NAME qmath_unknown_subcommand COMMAND qmath_cli no-such-subcommand)
add_test(NAME qmath_unknown_option COMMAND qmath_cli formats --no-such-option)
set_tests_properties(qmath_unknown_subcommand qmath_unknown_option PROPERTIES LABELS unit WILL_FAIL TRUE)

# quantize / dequantize on the .npy files of tests/data; outputs go to the build folder. The scripts run the
# tool under the cross-compiling emulator when there is one ('|'-separated: ';' would split the argument).
get_filename_component(qmath_cli_data "${PROJECT_SOURCE_DIR}/tests/data" ABSOLUTE)
set(qmath_cli_work "${CMAKE_CURRENT_BINARY_DIR}/cli_tests")
file(MAKE_DIRECTORY "${qmath_cli_work}")
string(REPLACE ";" "|" qmath_cli_emulator "${CMAKE_CROSSCOMPILING_EMULATOR}")

# qmath_cli_roundtrip(<name> <input.npy> <tolerance> <summary regex> QUANTIZE <args...> [DEQUANTIZE <args...>])
function(qmath_cli_roundtrip name input tolerance summary)
  cmake_parse_arguments(T "" "" "QUANTIZE;DEQUANTIZE" ${ARGN})
  string(REPLACE ";" "|" quantize_args "${T_QUANTIZE}")
  string(REPLACE ";" "|" dequantize_args "${T_DEQUANTIZE}")
  add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} "-DQMATH=$<TARGET_FILE:qmath_cli>"
           "-DEMULATOR=${qmath_cli_emulator}" "-DINPUT=${qmath_cli_data}/${input}"
           "-DPREFIX=${qmath_cli_work}/${name}" "-DQUANTIZE_ARGS=${quantize_args}"
           "-DDEQUANTIZE_ARGS=${dequantize_args}" "-DTOLERANCE=${tolerance}" "-DSUMMARY=${summary}"
           -P "${CMAKE_CURRENT_SOURCE_DIR}/tests/roundtrip_test.cmake")
  set_tests_properties(${name} PROPERTIES LABELS unit)
endfunction()

# qmath_cli_run(<name> <exit status> <regex> [PARAMS_CASE <case>] ARGS <args...>): one run of the tool; with
# exit status 2 the regex applies to the one-line error message. A PARAMS_CASE file (see cli_run_test.cmake)
# is written to <work>/<name>.json first.
function(qmath_cli_run name expect_rc expect)
  cmake_parse_arguments(T "" "PARAMS_CASE" "ARGS" ${ARGN})
  string(REPLACE ";" "|" args "${T_ARGS}")
  set(params_options "")
  if(T_PARAMS_CASE)
    set(params_options "-DPARAMS_CASE=${T_PARAMS_CASE}" "-DPARAMS_FILE=${qmath_cli_work}/${name}.json")
  endif()
  add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} "-DQMATH=$<TARGET_FILE:qmath_cli>"
           "-DEMULATOR=${qmath_cli_emulator}" "-DARGS=${args}" "-DEXPECT_RC=${expect_rc}" "-DEXPECT=${expect}"
           ${params_options} -P "${CMAKE_CURRENT_SOURCE_DIR}/tests/run_test.cmake")
  set_tests_properties(${name} PROPERTIES LABELS unit)
endfunction()

# Round trips: the error bound is half the largest step (scale) of the parameters quantize chooses.
qmath_cli_roundtrip(qmath_npy_roundtrip_int8_channel weights_4x6.npy 0.0032
  "int8 codes, shape \\[4, 6\\], C order; per channel on axis 0, 4 scales; pytorch affine. and parameters .*_codes.json"
  QUANTIZE --granularity channel)
qmath_cli_roundtrip(qmath_npy_roundtrip_fortran_symmetric f32_fortran_2x3.npy 0.006
  "Fortran order; per channel on axis 1, 3 scales; pytorch symmetric"
  QUANTIZE --granularity channel --axis -1 --scheme symmetric --narrow-range)
qmath_cli_roundtrip(qmath_npy_roundtrip_uint4_group weights_4x6.npy 0.036
  "uint4 codes, one per uint8, .*per group of 4 on axis 1, 8 scales; tflite affine"
  QUANTIZE --dtype uint4 --granularity group --axis 1 --group-size 4 --profile tflite)
qmath_cli_roundtrip(qmath_npy_roundtrip_int16_onnx f32_c_2x3.npy 0.00002
  "int16 codes, .*per tensor; onnx affine" QUANTIZE --dtype int16 --profile onnx)
# Values on the grid of the explicit scale come back exactly; dequantize takes the explicit parameters too.
qmath_cli_roundtrip(qmath_npy_roundtrip_explicit f32_c_2x3.npy 0
  "uint8 codes, .*per tensor; pytorch explicit" QUANTIZE --dtype uint8 --scale 0.5 --zero-point 2
  DEQUANTIZE --scale=0.5 --zero-point=2)

# Errors: exit status 2 and one line on stderr.
set(weights "${qmath_cli_data}/weights_4x6.npy")
set(codes "${qmath_cli_data}/i1_4.npy")
set(out "${qmath_cli_work}/error_output.npy")
qmath_cli_run(qmath_npy_quantize_missing_input 2 "cannot open for reading"
  ARGS quantize ${qmath_cli_work}/no_such_file.npy ${out})
qmath_cli_run(qmath_npy_quantize_bad_dtype 2 "--dtype: int7 not in .int8,uint8" ARGS quantize ${weights} ${out} --dtype int7)
qmath_cli_run(qmath_npy_quantize_axis_out_of_range 2 "--axis 2 is out of range .* of rank 2"
  ARGS quantize ${weights} ${out} --granularity channel --axis 2)
qmath_cli_run(qmath_npy_quantize_malformed_npy 2 "truncated_4x6.npy': truncated data"
  ARGS quantize ${qmath_cli_data}/truncated_4x6.npy ${out})
qmath_cli_run(qmath_npy_quantize_big_endian 2 "big-endian dtype '>f4'"
  ARGS quantize ${qmath_cli_data}/f32_bigendian_2.npy ${out})
qmath_cli_run(qmath_npy_quantize_not_float 2 "quantize needs float32" ARGS quantize ${codes} ${out})
qmath_cli_run(qmath_npy_quantize_bad_number 2 "bad number 'abc' in --scale"
  ARGS quantize ${weights} ${out} --scale abc --zero-point 0)
qmath_cli_run(qmath_npy_quantize_scale_count 2 "scale has 2 entries, the granularity needs 1"
  ARGS quantize ${weights} ${out} --scale 0.1,0.2 --zero-point 0,0)
qmath_cli_run(qmath_npy_quantize_group_size 2 "group needs --group-size > 0"
  ARGS quantize ${weights} ${out} --granularity group)
qmath_cli_run(qmath_npy_quantize_unknown_option 2 "arguments were not expected: 8 --bits" ARGS quantize ${weights} ${out} --bits 8)
qmath_cli_run(qmath_npy_dequantize_no_params 2 "cannot open parameters file .*i1_4.json"
  ARGS dequantize ${codes} ${out})
qmath_cli_run(qmath_npy_dequantize_float_input 2 "holds <f4 data, not codes"
  ARGS dequantize ${weights} ${out} --scale 1 --zero-point 0)
qmath_cli_run(qmath_npy_dequantize_int4_range 2 "code -128 at element 0 is outside the int4 range"
  ARGS dequantize ${codes} ${out} --scale 1 --zero-point 0 --dtype int4)
qmath_cli_run(qmath_npy_dequantize_params_not_json 2 "expected '.' at the start"
  ARGS dequantize ${codes} ${out} --params ${codes})
# diff: the perturbed file differs by 0.01 * index, so by 0.05 at most (0.0499999 in float), at element 5.
set(c_2x3 "${qmath_cli_data}/f32_c_2x3.npy")
qmath_cli_run(qmath_npy_diff_within_tolerance 0 "max .a - b. = 0.04999[0-9]* .element 5.*within tolerance 0.06"
  ARGS diff ${c_2x3} ${qmath_cli_data}/f32_c_2x3_perturbed.npy --tolerance 0.06)
qmath_cli_run(qmath_npy_diff_above_tolerance 1 "ABOVE tolerance 0.04"
  ARGS diff ${c_2x3} ${qmath_cli_data}/f32_c_2x3_perturbed.npy --tolerance 0.04)
qmath_cli_run(qmath_npy_diff_order_mismatch 2 "differ in shape or order"
  ARGS diff ${c_2x3} ${qmath_cli_data}/f32_fortran_2x3.npy)

# compare: the built-in workloads (small, untimed: the aarch64 run is emulated), a .npy file, bad options.
qmath_cli_run(qmath_compare_builtin 0
  "== gaussian ==.*int8 sym, channel.*== llm-outliers ==.*histogram L2.*== relu ==.*int4 affine, group 32"
  ARGS compare --size 16x256 --no-timing)
qmath_cli_run(qmath_compare_csv 0 "^source,tensor,format,elements,bits_per_element.*built-in,uniform,fp16,4096,16,8192,"
  ARGS compare --size 16x256 --no-timing --output csv)
# [4, 6]: 24 int8 codes + 4 channels x (fp32 scale + int8 zero point) = 352 bits = 14.667 bits/element, 44 bytes.
qmath_cli_run(qmath_compare_npy 0 "== weights_4x6 ==.*int8 affine, channel +14\\.667 +44 "
  ARGS compare ${weights} --no-timing)
qmath_cli_run(qmath_compare_bad_output 2 "--output: xml not in .table,csv,json."
  ARGS compare --output xml)
qmath_cli_run(qmath_compare_bad_size 2 "--size must be ROWSxCOLS" ARGS compare --size 16by256)
qmath_cli_run(qmath_compare_not_a_tensor_file 2 "is neither a .npy nor a .safetensors file"
  ARGS compare ${CMAKE_CURRENT_SOURCE_DIR}/CMakeLists.txt)
if(TARGET export_realdata)
  add_test(NAME qmath_compare_realdata COMMAND ${CMAKE_COMMAND} "-DQMATH=$<TARGET_FILE:qmath_cli>"
           "-DEXPORT=$<TARGET_FILE:export_realdata>" "-DEMULATOR=${qmath_cli_emulator}"
           "-DREALDATA=${QMATH_SHARED_DIR}/realdata" "-DWORK=${qmath_cli_work}/realdata"
           -P "${CMAKE_CURRENT_SOURCE_DIR}/tests/compare_realdata_test.cmake")
  set_tests_properties(qmath_compare_realdata PROPERTIES LABELS unit SKIP_REGULAR_EXPRESSION "SKIPPED")
endif()

# The parameters reader, on files quantize never writes (cli_run_test.cmake has them).
qmath_cli_run(qmath_npy_params_reordered 0 "from int8 codes, per tensor" PARAMS_CASE reordered
  ARGS dequantize ${codes} ${out} --params ${qmath_cli_work}/qmath_npy_params_reordered.json)
foreach(case_and_message IN ITEMS
    "missing_key|missing .qmax."
    "duplicate_key|the key .qmax. appears twice"
    "unknown_key|unexpected key .bits."
    "trailing_text|unexpected text after the closing"
    "scale_overflow|1e39, which is not a finite float"
    "count_mismatch|inconsistent parameters: 2 scales but 1 zero points"
    "wrong_dtype|holds .i1 data, but int16 codes"
    "axis_out_of_range|.axis. of .* 1 is out of range"
    "float_zero_point|.zero_point. must hold integers")
  string(REPLACE "|" ";" case_and_message "${case_and_message}")
  list(GET case_and_message 0 case)
  list(GET case_and_message 1 message)
  qmath_cli_run(qmath_npy_params_${case} 2 "${message}" PARAMS_CASE ${case}
    ARGS dequantize ${codes} ${out} --params ${qmath_cli_work}/qmath_npy_params_${case}.json)
endforeach()

# Runs a new user gets wrong: exit status 2, inputs unchanged, no output left behind (bad_input_test.cmake).
foreach(case IN ITEMS compare_chart_is_input quantize_in_place dequantize_over_its_parameters
                      quantize_unwritable_parameters parameters_directory compress_output_is_input compress_bad_recipe
                      compress_prune_and_rank compare_json_non_utf8_name dash_file_name)
  add_test(NAME qmath_bad_input_${case} COMMAND ${CMAKE_COMMAND} "-DQMATH=$<TARGET_FILE:qmath_cli>"
           "-DEMULATOR=${qmath_cli_emulator}" "-DDATA=${PROJECT_SOURCE_DIR}/tests/data" "-DWORK=${qmath_cli_work}/bad_input"
           "-DCASE=${case}" -P "${CMAKE_CURRENT_SOURCE_DIR}/tests/bad_input_test.cmake")
  set_tests_properties(qmath_bad_input_${case} PROPERTIES LABELS unit)
endforeach()

# compress: a recipe on the safetensors test file; the report's total line.
qmath_cli_run(qmath_compress_prune_int8 0 "3 weight tensor.*50.0 % pruned +8 .*total: [0-9]+ bytes of 56 .*SQNR"
  ARGS compress ${PROJECT_SOURCE_DIR}/tests/data/reference_mixed.safetensors -o ${qmath_cli_work}/compressed.safetensors
       --recipe prune=0.5,int=8)
qmath_cli_run(qmath_compress_low_rank_json 0 "\"done\": \"rank 1 of 2\".*\"sqnr_db\""
  ARGS compress ${PROJECT_SOURCE_DIR}/tests/data/reference_mixed.safetensors -o ${qmath_cli_work}/factored.safetensors
       --recipe rank=params:0.5 --report json)
# The +-Inf hint only where the data holds +-Inf.
qmath_cli_run(qmath_npy_quantize_infinite 2 "range.* is not finite .* holds [+]-Inf: give --scale"
  ARGS quantize ${qmath_cli_data}/f32_inf_2.npy ${out})
