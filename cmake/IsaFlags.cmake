# SPDX-License-Identifier: Apache-2.0
# IsaFlags.cmake: the compiler flags of each ISA variant, in one place. Only the translation units under src/isa/
# (explicit instantiations, no Eigen) and the tests/benchmarks that need a bare instruction loop use them.
include(CheckCXXCompilerFlag)

set(QMATH_X86_ISAS avx2 avx512bw)
set(QMATH_ARM_ISAS neon)

function(qmath_isa_flags isa out)
  if(isa STREQUAL "avx2")
    set(f -mavx2 -mfma -mf16c)
  elseif(isa STREQUAL "avx512bw")
    set(f -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq)
  elseif(isa STREQUAL "avx512bf16")
    set(f -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512bf16)
  elseif(isa STREQUAL "neon")
    set(f "")   # baseline on aarch64
  else()
    message(FATAL_ERROR "qmath_isa_flags: unknown ISA '${isa}'")
  endif()
  set(${out} "${f}" PARENT_SCOPE)
endfunction()

# The ISAs this compiler can build for the target processor.
function(qmath_buildable_isas out)
  set(result "")
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
    foreach(isa IN LISTS QMATH_X86_ISAS)
      qmath_isa_flags(${isa} f)
      string(REPLACE ";" " " fs "${f}")
      set(CMAKE_REQUIRED_FLAGS "${fs}")
      check_cxx_compiler_flag("${fs}" QMATH_CAN_BUILD_${isa})
      if(QMATH_CAN_BUILD_${isa})
        list(APPEND result ${isa})
      endif()
    endforeach()
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64|ARM64")
    list(APPEND result ${QMATH_ARM_ISAS})
  endif()
  set(${out} "${result}" PARENT_SCOPE)
endfunction()
