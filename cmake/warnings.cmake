# Warnings for every gemrt target (not for third-party code).
function(gemrt_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference
                                           -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
endfunction()
