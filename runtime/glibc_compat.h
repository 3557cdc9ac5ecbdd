/* Included first in every libattnrt source (runtime/CMakeLists.txt): binds the
 * dynamic-loader calls to their GLIBC_2.2.5 versions. glibc 2.34 moved them
 * from libdl into libc under a new version, GLIBC_2.34, which a library linked
 * on a newer system would then need, so that it would not load on an older
 * glibc (Ubuntu 20.04 has 2.31). libc keeps the old versions, and before 2.34
 * libdl.so.2, which the library links, defines them. */
#ifndef ATTN_RUNTIME_GLIBC_COMPAT_H
#define ATTN_RUNTIME_GLIBC_COMPAT_H

#if defined(__x86_64__) && defined(__linux__)
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
__asm__(".symver dlerror,dlerror@GLIBC_2.2.5");
__asm__(".symver dlclose,dlclose@GLIBC_2.2.5");
#endif

#endif /* ATTN_RUNTIME_GLIBC_COMPAT_H */
