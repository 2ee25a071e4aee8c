# SPDX-License-Identifier: Apache-2.0
# leak_check.cmake: no ISA translation unit of qmath::isa_kernels may define a weak or inline symbol that does not
# name its own architecture. The linker keeps one copy of such a symbol for the whole program, and a copy compiled
# with, say, AVX-512 flags would then run on CPUs without AVX-512 (docs/ARCHITECTURE.md, ODR rule).
#   cmake -DNM=<nm> -DLIB=<libqmath_isa_kernels.a> [-DBASELINE_UNITS=<isa>,...] -P leak_check.cmake
# BASELINE_UNITS: units compiled with no flags beyond the target's baseline (neon on aarch64). Their copies are
# what any other translation unit of the program emits, so they cannot leak anything; they are listed, not checked
# (on aarch64 the neon unit defines xsimd's non-template vreinterpretq wrappers, whose addresses xsimd takes).
# Checked: nm types W and V (weak function / object) and u (GNU unique global: static data of inline functions).
# Each object is named after its unit (src/isa/<isa>.cpp); registry.cpp is compiled without ISA flags.
cmake_minimum_required(VERSION 3.21)
foreach(var NM LIB)
  if(NOT ${var})
    message(FATAL_ERROR "leak_check.cmake: set -D${var}=...")
  endif()
endforeach()

# The names that mark a symbol as the unit's own: qmath's inline namespace (isa_<isa>, set by the unit) and the
# arch tags its templates are instantiated on.
set(tags_avx2 "isa_avx2::" "xsimd::avx2>" "xsimd::avx2,")
set(tags_avxvnni "isa_avxvnni::")
set(tags_avx512bw "isa_avx512bw::" "xsimd::avx512bw>" "xsimd::avx512bw,")
set(tags_avx512vnni "isa_avx512vnni::")
set(tags_neon "isa_neon::" "xsimd::neon64>" "xsimd::neon64,")
set(tags_neon_dotprod "isa_neon_dotprod::")

execute_process(COMMAND "${NM}" -C "${LIB}" OUTPUT_VARIABLE listing RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -C ${LIB} failed: ${err}")
endif()
# CMake lists do not split inside [...] (demangled names have "[abi:cxx11]", "(&) [4]"): swap the brackets out.
string(REPLACE "[" "<qmath_lb>" listing "${listing}")
string(REPLACE "]" "<qmath_rb>" listing "${listing}")
string(REPLACE ";" "<qmath_sc>" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")

# Excluded, each class with its reason (what remains is a leak to fix):
# - DW.ref.__gxx_personality_v0: the exception-handling personality pointer, eight bytes of data holding the
#   address of the C++ runtime's __gxx_personality_v0; the same in every object, no code.
# - xsimd's register wrappers of the arch a unit's arch extends (unoptimised builds only): xsimd 8.1 derives the
#   registers of avx2 from avx's, of avx512bw from avx512dq / cd / f's, of neon64 from neon's, and qmath's dot-product
#   tags from avx512bw, fma3<avx2> and neon64 (kernels/x86/arch.hpp, arm/arch.hpp), so the units of one family all
#   define the same members. Each stores or returns one vector register: a single move that every member of the
#   family encodes alike, reached only by code that already needs that family's ISA.
# - typeinfo (and its name) of function types: clang's -fsanitize=function emits one for every function whose
#   address is taken, to check indirect calls. RTTI is constant data, the same in every object, no code.
set(excluded
    "^DW\\.ref\\.__gxx_personality_v0$"
    "^typeinfo (name )?for [^<]*\\("
    "^xsimd::types::simd_register<[^,]+, xsimd::(avx|avx2|fma3<xsimd::avx2> |avx512f|avx512cd|avx512dq|avx512bw|neon|neon64)>::"
    "^xsimd::types::simd_avx512_bool_register<[^>]+>::")

string(REPLACE "," ";" baseline_units "${BASELINE_UNITS}")
foreach(unit IN LISTS baseline_units)
  unset(tags_${unit})
endforeach()

set(unit "")
set(units_seen "")
set(checked 0)
set(offenders "")
foreach(line IN LISTS lines)
  if(line MATCHES "^([A-Za-z0-9_]+)(\\.cpp)?\\.o:$")
    set(unit "${CMAKE_MATCH_1}")
    if(DEFINED tags_${unit})
      list(APPEND units_seen ${unit})
    endif()
    continue()
  endif()
  if(NOT DEFINED tags_${unit} OR NOT line MATCHES "^[0-9a-fA-F]* *[WVu] (.*)$")
    continue()
  endif()
  set(symbol "${CMAKE_MATCH_1}")
  set(skip FALSE)
  foreach(pattern IN LISTS excluded)
    if(symbol MATCHES "${pattern}")
      set(skip TRUE)
      break()
    endif()
  endforeach()
  if(skip)
    continue()
  endif()
  math(EXPR checked "${checked} + 1")
  set(own FALSE)
  foreach(tag IN LISTS tags_${unit})
    string(FIND "${symbol}" "${tag}" at)
    if(NOT at EQUAL -1)
      set(own TRUE)
      break()
    endif()
  endforeach()
  if(NOT own)
    string(REPLACE "<qmath_lb>" "[" symbol "${symbol}")
    string(REPLACE "<qmath_rb>" "]" symbol "${symbol}")
    string(REPLACE "<qmath_sc>" ";" symbol "${symbol}")
    string(APPEND offenders "  ${unit}: ${symbol}\n")
  endif()
endforeach()

if(units_seen STREQUAL "" AND baseline_units STREQUAL "")
  message(FATAL_ERROR "leak_check.cmake: no ISA unit found in ${LIB}")
endif()
if(NOT offenders STREQUAL "")
  message(FATAL_ERROR "weak / inline symbols defined by ISA units without their unit's arch tag (the linker may "
                      "give every caller this ISA-flagged copy):\n${offenders}")
endif()
set(note "")
if(NOT baseline_units STREQUAL "")
  set(note "; baseline units, not checked: ${baseline_units}")
endif()
message(STATUS "leak check: ${checked} weak symbols in units ${units_seen}, all tagged with their own ISA${note}")
