# Cross-compiling for aarch64 Linux with Debian's cross toolchain
# (g++-aarch64-linux-gnu) against Debian's arm64 multiarch packages
# (libhwy-dev:arm64, ...); tests run under qemu-user (scripts/test-cross.sh).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# The arm64 packages' pkg-config files, not the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
# Programs built here (tests, and gtest_discover_tests listing them) run
# through qemu; $QEMU_CPU picks the emulated CPU.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
