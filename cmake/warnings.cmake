# Warnings for every gemrt target (not for third-party code).
# -Wno-restrict: GCC 12 reports false positives inside libstdc++'s std::string at -O2/-O3
# (GCC bug 105651). -Wnull-dereference is left out for the same reason (libstdc++ streambuf).
function(gemrt_warnings target)
  set(flags -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused -Woverloaded-virtual
            -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
  target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:${flags}>")
endfunction()
