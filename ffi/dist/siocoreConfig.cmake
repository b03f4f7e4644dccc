# find_package(siocore) for an installed libsiocore (scripts/install-c.sh). Defines
#   siocore::siocore  the shared library
#   siocore::static   the static library (with the system libraries it needs)
get_filename_component(_siocore_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET siocore::siocore)
  add_library(siocore::siocore SHARED IMPORTED)
  set_target_properties(siocore::siocore PROPERTIES
    IMPORTED_LOCATION "${_siocore_prefix}/lib/libsiocore.so.0"
    IMPORTED_SONAME "libsiocore.so.0"
    INTERFACE_INCLUDE_DIRECTORIES "${_siocore_prefix}/include")
endif()
if(NOT TARGET siocore::static)
  add_library(siocore::static STATIC IMPORTED)
  set_target_properties(siocore::static PROPERTIES
    IMPORTED_LOCATION "${_siocore_prefix}/lib/libsiocore.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_siocore_prefix}/include"
    INTERFACE_LINK_LIBRARIES "pthread;dl;m")
endif()
unset(_siocore_prefix)
