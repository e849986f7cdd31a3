/*
 * Test harness only, never shipped: Windows 10 and 11 have bcryptprimitives.dll
 * and its ProcessPrng, which Rust's standard library imports; Wine 8 (Debian 12)
 * has neither, so no current Rust program starts under it. The installer tests
 * build this stand-in into their own Wine prefix, so that the relay's real
 * sentra-sync.exe runs there as a Windows service.
 * Built with: x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll
 *             bcryptprimitives.c bcryptprimitives.def -ladvapi32
 */
#include <windows.h>
#include <ntsecapi.h>

/* ProcessPrng fills the buffer with random bytes and cannot fail. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
