// SPDX-License-Identifier: MPL-2.0
/* Test-only imitation of the CUDA toolkit's link-time stub (`<cuda>/lib64/stubs/libcuda.so`):
 * a library with the driver's entry points and soname (libcuda.so.1) whose every call answers
 * CUDA_ERROR_STUB_LIBRARY (34). Tests put it first on LD_LIBRARY_PATH as `libcuda.so`, the name a
 * careless loader tries first, to prove that only `libcuda.so.1` decides; or as `libcuda.so.1`
 * itself, the Docker-image mistake of symlinking the stub there. */

#define STUB 34

typedef int CUresult;

CUresult cuInit(unsigned int flags) { (void)flags; return STUB; }
CUresult cuDeviceGetCount(int *count) { (void)count; return STUB; }
CUresult cuDeviceGet(int *device, int ordinal) { (void)device; (void)ordinal; return STUB; }
CUresult cuDeviceGetName(char *name, int len, int device) { (void)name; (void)len; (void)device; return STUB; }
CUresult cuDeviceGetAttribute(int *v, int a, int d) { (void)v; (void)a; (void)d; return STUB; }
CUresult cuGetErrorName(CUresult error, const char **str) { (void)error; (void)str; return STUB; }
CUresult cuCtxCreate_v2(void **ctx, unsigned int flags, int device) { (void)ctx; (void)flags; (void)device; return STUB; }
CUresult cuCtxDestroy_v2(void *ctx) { (void)ctx; return STUB; }
CUresult cuCtxPushCurrent_v2(void *ctx) { (void)ctx; return STUB; }
CUresult cuCtxPopCurrent_v2(void **ctx) { (void)ctx; return STUB; }
CUresult cuGLGetDevices_v2(unsigned int *c, int *d, unsigned int m, int l) { (void)c; (void)d; (void)m; (void)l; return STUB; }
CUresult cuGraphicsGLRegisterBuffer(void **r, unsigned int b, unsigned int f) { (void)r; (void)b; (void)f; return STUB; }
CUresult cuGraphicsResourceSetMapFlags_v2(void *r, unsigned int f) { (void)r; (void)f; return STUB; }
CUresult cuGraphicsMapResources(unsigned int n, void **r, void *s) { (void)n; (void)r; (void)s; return STUB; }
CUresult cuGraphicsResourceGetMappedPointer_v2(unsigned long long *p, unsigned long *s, void *r) { (void)p; (void)s; (void)r; return STUB; }
CUresult cuGraphicsUnmapResources(unsigned int n, void **r, void *s) { (void)n; (void)r; (void)s; return STUB; }
CUresult cuGraphicsUnregisterResource(void *r) { (void)r; return STUB; }
