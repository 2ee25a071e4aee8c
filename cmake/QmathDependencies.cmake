# SPDX-License-Identifier: Apache-2.0
# QmathDependencies.cmake: find Eigen 3.4 and xsimd 8.1, with a message naming the Debian package when missing.
find_package(Eigen3 3.4 QUIET NO_MODULE)
if(NOT Eigen3_FOUND)
  message(FATAL_ERROR "qmath needs Eigen 3.4. On Debian/Ubuntu: apt-get install -y libeigen3-dev")
endif()
find_package(xsimd 8.1 QUIET)
if(NOT xsimd_FOUND)
  message(FATAL_ERROR "qmath needs xsimd 8.1. On Debian/Ubuntu: apt-get install -y libxsimd-dev")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/XsimdCompat.cmake)
