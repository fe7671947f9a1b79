// SPDX-License-Identifier: MPL-2.0
/* Test-only stand-in for libcuda.so.1. It drives gst-strom's real loading and interop-test code
 * through the branches a test picks; it is NOT evidence that any GPU works.
 *
 * Each entry point returns the CUresult named by an environment variable (default 0, success):
 *   STROM_STUB_CUDA_INIT              cuInit
 *   STROM_STUB_CUDA_DEVICES           device count (default 1)
 *   STROM_STUB_CUDA_GL_GET_DEVICES    cuGLGetDevices result
 *   STROM_STUB_CUDA_GL_DEVICES        devices behind the GL context (default 1)
 *   STROM_STUB_CUDA_REGISTER          cuGraphicsGLRegisterBuffer
 *   STROM_STUB_CUDA_MAP               cuGraphicsMapResources
 *   STROM_STUB_CUDA_BREAK_FILE        a path: once that file exists, every entry point returns
 *                                     STROM_STUB_CUDA_BREAK_CODE (default 999, CUDA_ERROR_UNKNOWN),
 *                                     as a driver that dies after a successful interop test does
 * strom_stub_calls() and strom_stub_outstanding() let a test count calls and check that every
 * retained context and registered resource was released. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUgraphicsResource;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;

static int register_calls;
static int outstanding_contexts;
static int outstanding_resources;
static int mapped;
static int fake_context = 1;
static int fake_resource = 2;

static int env_int(const char *name, int fallback) {
    const char *v = getenv(name);
    return (v && *v) ? atoi(v) : fallback;
}

/* Non-zero (the code to return) once the test has "broken" the driver. */
static int broken(void) {
    const char *path = getenv("STROM_STUB_CUDA_BREAK_FILE");
    if (!path || !*path || access(path, F_OK) != 0) return 0;
    return env_int("STROM_STUB_CUDA_BREAK_CODE", 999);
}
#define RETURN_IF_BROKEN() do { int b_ = broken(); if (b_) return b_; } while (0)

int strom_stub_calls(void) { return register_calls; }
int strom_stub_outstanding(void) { return outstanding_contexts + outstanding_resources + mapped; }

CUresult cuInit(unsigned int flags) { RETURN_IF_BROKEN(); (void)flags; return env_int("STROM_STUB_CUDA_INIT", 0); }

CUresult cuDeviceGetCount(int *count) { RETURN_IF_BROKEN();
    *count = env_int("STROM_STUB_CUDA_DEVICES", 1);
    return 0;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) { RETURN_IF_BROKEN();
    if (ordinal < 0 || ordinal >= env_int("STROM_STUB_CUDA_DEVICES", 1)) return 101;
    *device = ordinal;
    return 0;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice device) { RETURN_IF_BROKEN();
    (void)device;
    strncpy(name, "Stand-in CUDA device (test only)", (size_t)len - 1);
    name[len - 1] = 0;
    return 0;
}

CUresult cuGetErrorName(CUresult error, const char **str) {
    switch (error) {
    case 0: *str = "CUDA_SUCCESS"; return 0;
    case 3: *str = "CUDA_ERROR_NOT_INITIALIZED"; return 0;
    case 100: *str = "CUDA_ERROR_NO_DEVICE"; return 0;
    case 219: *str = "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT"; return 0;
    case 304: *str = "CUDA_ERROR_OPERATING_SYSTEM"; return 0;
    case 999: *str = "CUDA_ERROR_UNKNOWN"; return 0;
    default: return 1; /* CUDA_ERROR_INVALID_VALUE: let the caller fall back to its table */
    }
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev) { RETURN_IF_BROKEN();
    (void)dev;
    *ctx = &fake_context;
    outstanding_contexts++;
    return 0;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) { RETURN_IF_BROKEN(); (void)dev; outstanding_contexts--; return 0; }
CUresult cuCtxPushCurrent_v2(CUcontext ctx) { RETURN_IF_BROKEN(); (void)ctx; return 0; }
CUresult cuCtxPopCurrent_v2(CUcontext *ctx) { RETURN_IF_BROKEN(); *ctx = &fake_context; return 0; }

CUresult cuGLGetDevices_v2(unsigned int *count, CUdevice *devices, unsigned int max, int list) { RETURN_IF_BROKEN();
    (void)list;
    CUresult r = env_int("STROM_STUB_CUDA_GL_GET_DEVICES", 0);
    if (r) return r;
    unsigned int n = (unsigned int)env_int("STROM_STUB_CUDA_GL_DEVICES", 1);
    if (n > max) n = max;
    for (unsigned int i = 0; i < n; i++) devices[i] = (CUdevice)i;
    *count = n;
    return 0;
}

CUresult cuGraphicsGLRegisterBuffer(CUgraphicsResource *res, unsigned int buffer, unsigned int flags) { RETURN_IF_BROKEN();
    (void)flags;
    register_calls++;
    if (buffer == 0) return 1; /* a real driver rejects buffer object 0 too */
    CUresult r = env_int("STROM_STUB_CUDA_REGISTER", 0);
    if (r) return r;
    *res = &fake_resource;
    outstanding_resources++;
    return 0;
}

CUresult cuGraphicsMapResources(unsigned int n, CUgraphicsResource *res, CUstream s) { RETURN_IF_BROKEN();
    (void)n; (void)res; (void)s;
    CUresult r = env_int("STROM_STUB_CUDA_MAP", 0);
    if (r) return r;
    mapped++;
    return 0;
}

CUresult cuGraphicsResourceGetMappedPointer_v2(CUdeviceptr *p, size_t *size, CUgraphicsResource res) { RETURN_IF_BROKEN();
    (void)res;
    *p = 0x1000;
    *size = 1920 * 1080 * 3 / 2;
    return 0;
}

CUresult cuGraphicsUnmapResources(unsigned int n, CUgraphicsResource *res, CUstream s) { RETURN_IF_BROKEN();
    (void)n; (void)res; (void)s;
    mapped--;
    return 0;
}

CUresult cuGraphicsUnregisterResource(CUgraphicsResource res) { RETURN_IF_BROKEN(); (void)res; outstanding_resources--; return 0; }
