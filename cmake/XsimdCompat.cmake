# SPDX-License-Identifier: Apache-2.0
# XsimdCompat.cmake: Debian's xsimd 8.1 target names `xtl` as an interface link library although xsimd
# only needs xtl for optional complex support; with no `xtl` target that becomes a `-lxtl` link error.
if(TARGET xsimd AND NOT TARGET xtl)
  get_target_property(_qmath_xsimd_libs xsimd INTERFACE_LINK_LIBRARIES)
  if(_qmath_xsimd_libs)
    list(REMOVE_ITEM _qmath_xsimd_libs xtl)
    set_property(TARGET xsimd PROPERTY INTERFACE_LINK_LIBRARIES "${_qmath_xsimd_libs}")
  endif()
  unset(_qmath_xsimd_libs)
endif()
