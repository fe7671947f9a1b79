// SPDX-License-Identifier: MPL-2.0
/* Test-only stand-in for libcuda.so.1. It drives gst-strom's real loading and interop-test code
 * through the branches a test picks; it is NOT evidence that any GPU works.
 *
 * Each entry point returns the CUresult named by an environment variable (default 0, success).
 * Those marked [dev] can be set per CUDA device by appending _DEV<n> (e.g.
 * STROM_STUB_CUDA_REGISTER_DEV1=304): the device is the one the call names, or the device of the
 * context current on the calling thread.
 *   STROM_STUB_CUDA_INIT              cuInit
 *   STROM_STUB_CUDA_DEVICES           device count (default 1)
 *   STROM_STUB_CUDA_GL_GET_DEVICES    cuGLGetDevices result
 *   STROM_STUB_CUDA_GL_DEVICES        how many devices are behind the GL context (default 1:
 *                                     devices 0..n-1)
 *   STROM_STUB_CUDA_GL_DEVICE_LIST    which devices are behind the GL context, e.g. "1" or "2,0"
 *                                     (overrides STROM_STUB_CUDA_GL_DEVICES)
 *   STROM_STUB_CUDA_CTX_CREATE        cuCtxCreate [dev]
 *   STROM_STUB_CUDA_REGISTER          cuGraphicsGLRegisterBuffer [dev]
 *   STROM_STUB_CUDA_MAP               cuGraphicsMapResources [dev]
 *   STROM_STUB_CUDA_BREAK_FILE        a path: once that file exists, every entry point returns
 *                                     STROM_STUB_CUDA_BREAK_CODE (default 999, CUDA_ERROR_UNKNOWN),
 *                                     as a driver that dies after a successful interop test does;
 *                                     with STROM_STUB_CUDA_BREAK_GL_DEVICE_LIST set, calls keep
 *                                     working and only the devices behind GL change to that list
 *                                     (one GPU of several lost)
 * Test hooks: strom_stub_calls() counts cuGraphicsGLRegisterBuffer calls,
 * strom_stub_outstanding() what is still created, pushed, registered or mapped (0 once everything
 * was released), strom_stub_trace() the calls made so far ("cuCtxCreate(1) cuCtxPopCurrent ..."),
 * for checking the order against nvcodec's. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUgraphicsResource;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;

#define MAX_CONTEXTS 64
#define MAX_DEPTH 16

struct context { int in_use; int device; };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct context contexts[MAX_CONTEXTS];
static __thread struct context *stack[MAX_DEPTH];
static __thread int depth;
static int register_calls;
static int outstanding_contexts;
static int outstanding_pushes;
static int outstanding_resources;
static int mapped;
static int fake_resource = 2;
static char trace[16384];

static int env_int(const char *name, int fallback) {
    const char *v = getenv(name);
    return (v && *v) ? atoi(v) : fallback;
}

/* NAME_DEV<device> when set, else NAME. */
static int env_dev(const char *name, int device, int fallback) {
    char key[128];
    snprintf(key, sizeof key, "%s_DEV%d", name, device);
    const char *v = getenv(key);
    return (v && *v) ? atoi(v) : env_int(name, fallback);
}

static void note(const char *fmt, int a, int b) {
    char entry[96];
    snprintf(entry, sizeof entry, fmt, a, b);
    pthread_mutex_lock(&lock);
    size_t used = strlen(trace);
    if (used + strlen(entry) + 2 < sizeof trace) {
        if (used) strcat(trace, " ");
        strcat(trace, entry);
    }
    pthread_mutex_unlock(&lock);
}

static int current_device(void) { return depth > 0 ? stack[depth - 1]->device : -1; }

/* Whether the test has "broken" the driver (the break file exists). */
static int break_file_exists(void) {
    const char *path = getenv("STROM_STUB_CUDA_BREAK_FILE");
    return path && *path && access(path, F_OK) == 0;
}

/* Non-zero (the code to return) once the test has broken the whole driver. */
static int broken(void) {
    if (!break_file_exists() || getenv("STROM_STUB_CUDA_BREAK_GL_DEVICE_LIST")) return 0;
    return env_int("STROM_STUB_CUDA_BREAK_CODE", 999);
}
#define RETURN_IF_BROKEN() do { int b_ = broken(); if (b_) return b_; } while (0)

int strom_stub_calls(void) { return register_calls; }
int strom_stub_outstanding(void) {
    return outstanding_contexts + outstanding_pushes + outstanding_resources + mapped;
}
const char *strom_stub_trace(void) { return trace; }

CUresult cuInit(unsigned int flags) { RETURN_IF_BROKEN(); (void)flags;
    note("cuInit", 0, 0);
    return env_int("STROM_STUB_CUDA_INIT", 0);
}

CUresult cuDeviceGetCount(int *count) { RETURN_IF_BROKEN();
    note("cuDeviceGetCount", 0, 0);
    *count = env_int("STROM_STUB_CUDA_DEVICES", 1);
    return 0;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) { RETURN_IF_BROKEN();
    note("cuDeviceGet(%d)", ordinal, 0);
    if (ordinal < 0 || ordinal >= env_int("STROM_STUB_CUDA_DEVICES", 1)) return 101;
    *device = ordinal;
    return 0;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice device) { RETURN_IF_BROKEN();
    if (len <= 0) return 1;
    snprintf(name, (size_t)len, "Stand-in CUDA device %d (test only)", device);
    return 0;
}

CUresult cuDeviceGetAttribute(int *value, int attribute, CUdevice device) { RETURN_IF_BROKEN();
    (void)device;
    switch (attribute) {
    case 75: *value = 8; return 0;   /* compute capability major */
    case 76: *value = 9; return 0;   /* minor */
    case 14: *value = 512; return 0; /* texture alignment */
    default: *value = 0; return 0;
    }
}

CUresult cuGetErrorName(CUresult error, const char **str) {
    switch (error) {
    case 0: *str = "CUDA_SUCCESS"; return 0;
    case 3: *str = "CUDA_ERROR_NOT_INITIALIZED"; return 0;
    case 34: *str = "CUDA_ERROR_STUB_LIBRARY"; return 0;
    case 100: *str = "CUDA_ERROR_NO_DEVICE"; return 0;
    case 101: *str = "CUDA_ERROR_INVALID_DEVICE"; return 0;
    case 201: *str = "CUDA_ERROR_INVALID_CONTEXT"; return 0;
    case 219: *str = "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT"; return 0;
    case 304: *str = "CUDA_ERROR_OPERATING_SYSTEM"; return 0;
    case 999: *str = "CUDA_ERROR_UNKNOWN"; return 0;
    default: return 1; /* CUDA_ERROR_INVALID_VALUE: let the caller fall back to its table */
    }
}

CUresult cuCtxCreate_v2(CUcontext *ctx, unsigned int flags, CUdevice device) { RETURN_IF_BROKEN();
    (void)flags;
    note("cuCtxCreate(%d)", device, 0);
    if (device < 0 || device >= env_int("STROM_STUB_CUDA_DEVICES", 1)) return 101;
    CUresult r = env_dev("STROM_STUB_CUDA_CTX_CREATE", device, 0);
    if (r) return r;
    if (depth >= MAX_DEPTH) return 2;
    pthread_mutex_lock(&lock);
    struct context *slot = NULL;
    for (int i = 0; i < MAX_CONTEXTS && !slot; i++)
        if (!contexts[i].in_use) slot = &contexts[i];
    if (slot) { slot->in_use = 1; slot->device = device; outstanding_contexts++; outstanding_pushes++; }
    pthread_mutex_unlock(&lock);
    if (!slot) return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
    stack[depth++] = slot; /* cuCtxCreate makes the new context current */
    *ctx = slot;
    return 0;
}

CUresult cuCtxDestroy_v2(CUcontext ctx) { RETURN_IF_BROKEN();
    struct context *c = ctx;
    if (!c || !c->in_use) return 201;
    note("cuCtxDestroy(%d)", c->device, 0);
    pthread_mutex_lock(&lock);
    c->in_use = 0;
    outstanding_contexts--;
    pthread_mutex_unlock(&lock);
    return 0;
}

CUresult cuCtxPushCurrent_v2(CUcontext ctx) { RETURN_IF_BROKEN();
    struct context *c = ctx;
    if (!c || !c->in_use) return 201;
    note("cuCtxPushCurrent(%d)", c->device, 0);
    if (depth >= MAX_DEPTH) return 2;
    stack[depth++] = c;
    pthread_mutex_lock(&lock);
    outstanding_pushes++;
    pthread_mutex_unlock(&lock);
    return 0;
}

CUresult cuCtxPopCurrent_v2(CUcontext *ctx) { RETURN_IF_BROKEN();
    note("cuCtxPopCurrent", 0, 0);
    if (depth == 0) return 201;
    struct context *c = stack[--depth];
    if (ctx) *ctx = c;
    pthread_mutex_lock(&lock);
    outstanding_pushes--;
    pthread_mutex_unlock(&lock);
    return 0;
}

/* The devices behind the GL context: STROM_STUB_CUDA_GL_DEVICE_LIST, else 0..GL_DEVICES-1. */
static unsigned int gl_device_list(CUdevice *devices, unsigned int max) {
    const char *list = getenv("STROM_STUB_CUDA_GL_DEVICE_LIST");
    const char *after_break = getenv("STROM_STUB_CUDA_BREAK_GL_DEVICE_LIST");
    if (after_break && break_file_exists()) list = after_break;
    unsigned int n = 0;
    if (list) {
        const char *p = list;
        while (*p && n < max) {
            char *end;
            long d = strtol(p, &end, 10);
            if (end == p) break;
            devices[n++] = (CUdevice)d;
            p = (*end == ',') ? end + 1 : end;
        }
        return n;
    }
    n = (unsigned int)env_int("STROM_STUB_CUDA_GL_DEVICES", 1);
    if (n > max) n = max;
    for (unsigned int i = 0; i < n; i++) devices[i] = (CUdevice)i;
    return n;
}

CUresult cuGLGetDevices_v2(unsigned int *count, CUdevice *devices, unsigned int max, int list) { RETURN_IF_BROKEN();
    (void)list;
    note("cuGLGetDevices", 0, 0);
    CUresult r = env_int("STROM_STUB_CUDA_GL_GET_DEVICES", 0);
    if (r) return r;
    *count = gl_device_list(devices, max);
    return 0;
}

CUresult cuGraphicsGLRegisterBuffer(CUgraphicsResource *res, unsigned int buffer, unsigned int flags) { RETURN_IF_BROKEN();
    int device = current_device();
    note("cuGraphicsGLRegisterBuffer(%d,flags=%d)", device, (int)flags);
    pthread_mutex_lock(&lock);
    register_calls++;
    pthread_mutex_unlock(&lock);
    if (device < 0) return 201; /* no context current: what a real driver answers */
    if (buffer == 0) return 1; /* a real driver rejects buffer object 0 too */
    CUresult r = env_dev("STROM_STUB_CUDA_REGISTER", device, 0);
    if (r) return r;
    *res = &fake_resource;
    pthread_mutex_lock(&lock);
    outstanding_resources++;
    pthread_mutex_unlock(&lock);
    return 0;
}

CUresult cuGraphicsResourceSetMapFlags_v2(CUgraphicsResource res, unsigned int flags) { RETURN_IF_BROKEN();
    (void)res;
    note("cuGraphicsResourceSetMapFlags(flags=%d)", (int)flags, 0);
    return 0;
}

CUresult cuGraphicsMapResources(unsigned int n, CUgraphicsResource *res, CUstream s) { RETURN_IF_BROKEN();
    (void)n; (void)res; (void)s;
    int device = current_device();
    note("cuGraphicsMapResources(%d)", device, 0);
    CUresult r = env_dev("STROM_STUB_CUDA_MAP", device, 0);
    if (r) return r;
    pthread_mutex_lock(&lock);
    mapped++;
    pthread_mutex_unlock(&lock);
    return 0;
}

CUresult cuGraphicsResourceGetMappedPointer_v2(CUdeviceptr *p, size_t *size, CUgraphicsResource res) { RETURN_IF_BROKEN();
    (void)res;
    note("cuGraphicsResourceGetMappedPointer", 0, 0);
    *p = 0x1000;
    *size = 1920 * 1080 * 3 / 2;
    return 0;
}

CUresult cuGraphicsUnmapResources(unsigned int n, CUgraphicsResource *res, CUstream s) { RETURN_IF_BROKEN();
    (void)n; (void)res; (void)s;
    note("cuGraphicsUnmapResources", 0, 0);
    pthread_mutex_lock(&lock);
    mapped--;
    pthread_mutex_unlock(&lock);
    return 0;
}

CUresult cuGraphicsUnregisterResource(CUgraphicsResource res) { RETURN_IF_BROKEN();
    (void)res;
    note("cuGraphicsUnregisterResource", 0, 0);
    pthread_mutex_lock(&lock);
    outstanding_resources--;
    pthread_mutex_unlock(&lock);
    return 0;
}
