// SPDX-License-Identifier: MPL-2.0
/* Test-only stand-in for libnvidia-ml.so.1 (NVML). It drives gst-strom's real NVML loading and
 * sampling code through the branches a test picks; it is NOT evidence that any GPU works, and the
 * numbers it returns are made up (derived from the device index so tests can check the mapping).
 *
 * It exports only the entry points nvml-wrapper 0.13 resolves for what gst-strom calls:
 *   nvmlInit_v2 nvmlShutdown nvmlErrorString nvmlSystemGetDriverVersion nvmlDeviceGetCount_v2
 *   nvmlDeviceGetHandleByIndex_v2 nvmlDeviceGetName nvmlDeviceGetUUID nvmlDeviceGetPciInfo_v3
 *   nvmlDeviceGetUtilizationRates nvmlDeviceGetEncoderUtilization nvmlDeviceGetDecoderUtilization
 *   nvmlDeviceGetMemoryInfo_v2 nvmlDeviceGetTemperature nvmlDeviceGetPowerUsage
 *   nvmlDeviceGetClockInfo nvmlDeviceGetEncoderStats nvmlDeviceGetComputeRunningProcesses_v3
 *   nvmlDeviceGetGraphicsRunningProcesses_v3
 *
 * Environment:
 *   STROM_STUB_NVML_INIT         nvmlReturn_t of nvmlInit_v2 (default 0, success)
 *   STROM_STUB_NVML_DEVICES      device count (default 2)
 *   STROM_STUB_NVML_UNSUPPORTED  comma-separated metrics answering NVML_ERROR_NOT_SUPPORTED:
 *                                utilization, encoder-util, decoder-util, memory, temperature,
 *                                power, graphics-clock, memory-clock, encoder-stats, processes,
 *                                uuid, pci
 *   STROM_STUB_NVML_FAIL_DEVICE  index of a device that stops working (default -1, none)
 *   STROM_STUB_NVML_FAIL_AFTER   handle look-ups of that device that still work (default 0)
 *   STROM_STUB_NVML_FAIL_CODE    what its entry points return afterwards (default 15,
 *                                NVML_ERROR_GPU_IS_LOST) */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef struct stub_device { unsigned int index; } *nvmlDevice_t;

typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;

#define NVML_SUCCESS 0
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)
#define MAX_DEVICES 16

static struct stub_device devices[MAX_DEVICES];
static int handle_lookups[MAX_DEVICES];

static int env_int(const char *name, int fallback) {
    const char *v = getenv(name);
    return (v && *v) ? atoi(v) : fallback;
}

static int device_count(void) {
    int n = env_int("STROM_STUB_NVML_DEVICES", 2);
    return n < 0 ? 0 : (n > MAX_DEVICES ? MAX_DEVICES : n);
}

/* True when `metric` is listed in STROM_STUB_NVML_UNSUPPORTED (exact, comma-separated). */
static int unsupported(const char *metric) {
    const char *list = getenv("STROM_STUB_NVML_UNSUPPORTED");
    size_t len = strlen(metric);
    while (list && *list) {
        const char *end = strchr(list, ',');
        size_t item = end ? (size_t)(end - list) : strlen(list);
        if (item == len && strncmp(list, metric, len) == 0) return 1;
        list = end ? end + 1 : NULL;
    }
    return 0;
}

static int failing(nvmlDevice_t d) {
    int fail = env_int("STROM_STUB_NVML_FAIL_DEVICE", -1);
    return fail >= 0 && (unsigned int)fail == d->index &&
           handle_lookups[d->index] > env_int("STROM_STUB_NVML_FAIL_AFTER", 0);
}

/* What every per-device entry point checks first: a lost device, then an unsupported metric. */
static nvmlReturn_t check(nvmlDevice_t d, const char *metric) {
    if (!d || d->index >= (unsigned int)device_count()) return NVML_ERROR_INVALID_ARGUMENT;
    if (failing(d)) return env_int("STROM_STUB_NVML_FAIL_CODE", 15);
    if (metric && unsupported(metric)) return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}

static void copy_string(char *dst, unsigned int len, const char *src) {
    if (!len) return;
    strncpy(dst, src, len - 1);
    dst[len - 1] = 0;
}

nvmlReturn_t nvmlInit_v2(void) { return env_int("STROM_STUB_NVML_INIT", 0); }
nvmlReturn_t nvmlShutdown(void) { return NVML_SUCCESS; }

const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case 0: return "Success";
    case 3: return "Not Supported";
    case 9: return "Driver Not Loaded";
    case 15: return "GPU is lost";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int len) {
    copy_string(version, len, "550.00-stand-in");
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    *count = (unsigned int)device_count();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (index >= (unsigned int)device_count()) return NVML_ERROR_INVALID_ARGUMENT;
    devices[index].index = index;
    handle_lookups[index]++;
    *device = &devices[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int len) {
    nvmlReturn_t r = check(d, NULL);
    char buf[64];
    if (r) return r;
    snprintf(buf, sizeof buf, "NVML stand-in %u (test only)", d->index);
    copy_string(name, len, buf);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int len) {
    nvmlReturn_t r = check(d, "uuid");
    char buf[64];
    if (r) return r;
    snprintf(buf, sizeof buf, "GPU-00000000-0000-0000-0000-%012u", d->index);
    copy_string(uuid, len, buf);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *pci) {
    nvmlReturn_t r = check(d, "pci");
    if (r) return r;
    memset(pci, 0, sizeof *pci);
    pci->bus = d->index + 1;
    snprintf(pci->busId, sizeof pci->busId, "00000000:%02X:00.0", d->index + 1);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    nvmlReturn_t r = check(d, "utilization");
    if (r) return r;
    u->gpu = 10 + d->index;
    u->memory = 20 + d->index;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t d, unsigned int *u, unsigned int *period) {
    nvmlReturn_t r = check(d, "encoder-util");
    if (r) return r;
    *u = 30 + d->index;
    *period = 167000;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t d, unsigned int *u, unsigned int *period) {
    nvmlReturn_t r = check(d, "decoder-util");
    if (r) return r;
    *u = 40 + d->index;
    *period = 167000;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
    nvmlReturn_t r = check(d, "memory");
    if (r) return r;
    m->total = (8 + d->index) * GIB;
    m->used = (1 + d->index) * GIB;
    m->reserved = 0;
    m->free = m->total - m->used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *t) {
    nvmlReturn_t r = check(d, "temperature");
    if (r) return r;
    if (sensor != 0) return NVML_ERROR_INVALID_ARGUMENT;
    *t = 50 + d->index;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *milliwatts) {
    nvmlReturn_t r = check(d, "power");
    if (r) return r;
    *milliwatts = 75500 + 1000 * d->index;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *mhz) {
    /* NVML_CLOCK_GRAPHICS = 0, NVML_CLOCK_MEM = 2 */
    nvmlReturn_t r = check(d, type == 0 ? "graphics-clock" : type == 2 ? "memory-clock" : NULL);
    if (r) return r;
    *mhz = (type == 0 ? 1500 : type == 2 ? 7000 : 1) + d->index;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEncoderStats(nvmlDevice_t d, unsigned int *sessions, unsigned int *fps,
                                       unsigned int *latency_us) {
    nvmlReturn_t r = check(d, "encoder-stats");
    if (r) return r;
    *sessions = 2 + d->index;
    *fps = 60 + d->index;
    *latency_us = 1000 + d->index;
    return NVML_SUCCESS;
}

/* Two compute processes per device: the caller (so process-memory-used has a value) and pid 1
 * (so a test can tell that only the caller's memory is counted). */
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
                                                     nvmlProcessInfo_t *infos) {
    nvmlReturn_t r = check(d, "processes");
    if (r) return r;
    if (*count < 2 || !infos) {
        *count = 2;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    *count = 2;
    infos[0].pid = 1;
    infos[0].usedGpuMemory = 5 * MIB;
    infos[1].pid = (unsigned int)getpid();
    infos[1].usedGpuMemory = (100 + d->index) * MIB;
    infos[0].gpuInstanceId = infos[1].gpuInstanceId = 0xFFFFFFFF;
    infos[0].computeInstanceId = infos[1].computeInstanceId = 0xFFFFFFFF;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
                                                      nvmlProcessInfo_t *infos) {
    nvmlReturn_t r = check(d, "processes");
    (void)infos;
    if (r) return r;
    *count = 0;
    return NVML_SUCCESS;
}
